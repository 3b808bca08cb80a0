"""Traffic simulator throughput: records generated (and written) per second.

    .venv/bin/python bench/simulate_bench.py [--events 1000000] [--seed 0] [--write FILE]

Prints records/s of generation alone (CPU time and wall time), and of generation plus writing
JSON Lines when --write is given. No Kafka, no Postgres.
"""

from __future__ import annotations

import argparse
import time

from ingest.traffic_simulator import SimulationConfig, TrafficSimulator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write", metavar="FILE")
    args = parser.parse_args()
    simulator = TrafficSimulator(SimulationConfig(seed=args.seed, events=args.events))
    wall, cpu = time.perf_counter(), time.process_time()
    size = 0
    if args.write:
        with open(args.write, "wb") as out:
            for record in simulator.records():
                out.write(record.value + b"\n")
                size += len(record.value) + 1
    else:
        for record in simulator.records():
            size += len(record.value) + 1
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    n = simulator.summary.events
    print(f"records          {n:,}")
    print(f"bytes            {size:,}")
    print(f"wall s           {wall:.2f}  ({n / wall:,.0f} records/s)")
    print(f"cpu s            {cpu:.2f}  ({n / cpu:,.0f} records/s)")
    print(f"summary          {simulator.summary.describe()}")


if __name__ == "__main__":
    main()
