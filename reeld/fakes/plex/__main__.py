"""``python -m reeld.fakes.plex``: a fake plex.tv on PORT and N servers on PORT+1…PORT+N.

Prints plex.tv's URL on one line once everything listens, then serves until SIGTERM or SIGINT.
The layout of the servers is `reeld.fakes.plex.cluster.default_specs`.
"""

import argparse
import asyncio
import signal
import sys

from reeld.fakes.plex.cluster import FakePlexCluster, default_specs
from reeld.fakes.plex.generate import CatalogSpec
from reeld.logs import configure_logging


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m reeld.fakes.plex", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=32400, help="plex.tv's port; servers use the next ones")
    parser.add_argument(
        "--servers", type=int, default=2, help="how many servers (the last one starts offline)"
    )
    parser.add_argument("--movies", type=int, default=30, help="movies per server")
    parser.add_argument("--shows", type=int, default=4, help="shows per server")
    parser.add_argument("--seasons", type=int, default=2, help="seasons per show")
    parser.add_argument("--episodes", type=int, default=5, help="episodes per season")
    parser.add_argument("--token", default="fake-plex-token", help="the account's token")
    args = parser.parse_args(argv)
    if args.servers < 1:
        parser.error("--servers must be at least 1")
    return args


async def serve(args: argparse.Namespace) -> None:
    catalog = CatalogSpec(movies=args.movies, shows=args.shows, seasons=args.seasons, episodes=args.episodes)
    specs = default_specs(args.servers, catalog, base_port=args.port)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signal_number, stopping.set)
    async with FakePlexCluster(specs, token=args.token, port=args.port) as cluster:
        print(cluster.url, flush=True)
        # Render JSON listings while the client is still logging in: first pages come back warm.
        warming = asyncio.create_task(cluster.warm())
        await stopping.wait()
        warming.cancel()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging()  # to stderr: stdout carries only the URL
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
