"""The bol job with the Python peer, `python-bol-api-latest` 1.5.0, for
`retailer-client/benches/bol_job.rs`: list the open FBR orders (page by page until an
empty page), read each order, confirm one shipment per open order item
(`POST /retailer/shipments`) and poll its process status every 0.2 s until it is no longer
PENDING, one item after the other, as the package's users do.

The package is pointed at the sandbox with its own constructor arguments (`api_url`,
`login_url`); nothing of it is patched. Prints one JSON line with the job's figures.

    python bol_job.py --api-url http://127.0.0.1:PORT/bol --login-url http://127.0.0.1:PORT/bol \
        --client-id ID --client-secret SECRET
"""

import argparse
import json
import sys
import time

from bol.retailer.api import RetailerAPI

POLL_EVERY = 0.2


def open_items(order):
    """The items of an order still to ship, from the package's `Order` model."""
    for item in getattr(order, "orderItems", []):
        shipped = getattr(item, "quantityShipped", 0)
        cancelled = getattr(item, "quantityCancelled", 0)
        if item.quantity - shipped - cancelled > 0 and not getattr(item, "cancellationRequest", False):
            yield item


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--api-url", required=True)
    parser.add_argument("--login-url", required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    args = parser.parse_args()

    wall0, cpu0 = time.perf_counter(), time.process_time()
    figures = {"orders": 0, "items": 0, "succeeded": 0, "failed": 0, "polls": 0, "first_error": None}
    try:
        api = RetailerAPI(api_url=args.api_url, login_url=args.login_url)
        api.login(args.client_id, args.client_secret)

        order_ids = []
        page = 1
        while True:
            orders = api.orders.list(fulfilment_method="FBR", status="OPEN", page=page)
            if len(orders) == 0:
                break
            order_ids.extend(o.orderId for o in orders)
            page += 1
        figures["orders"] = len(order_ids)

        for order_id in order_ids:
            order = api.orders.get(order_id)
            for item in open_items(order):
                figures["items"] += 1
                item_id = item.orderItemId
                status = api.orders.ship_order_item(
                    item_id,
                    shipment_reference="bench-" + item_id,
                    transporter_code="TNT",
                    track_and_trace="3SBENCH" + item_id,
                )
                while status.status == "PENDING":
                    time.sleep(POLL_EVERY)
                    status = api.process_status.getById(status.processStatusId)
                    figures["polls"] += 1
                if status.status == "SUCCESS":
                    figures["succeeded"] += 1
                else:
                    figures["failed"] += 1
                    if figures["first_error"] is None:
                        figures["first_error"] = "process status %s" % status.status
    except Exception as e:  # noqa: BLE001 - the bench reports it, whatever it is
        figures["failed"] += 1
        if figures["first_error"] is None:
            figures["first_error"] = "%s: %s" % (type(e).__name__, e)

    figures["wall_s"] = time.perf_counter() - wall0
    figures["cpu_s"] = time.process_time() - cpu0
    print(json.dumps(figures))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
