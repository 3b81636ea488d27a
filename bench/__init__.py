"""The benchmark: a load generator that drives the real backend and front server, and the floor relay.

Run it with ``make bench`` or ``python -m bench``; see docs/benchmark.md.
"""
