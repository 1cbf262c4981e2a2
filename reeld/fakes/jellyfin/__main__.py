"""``python -m reeld.fakes.jellyfin --port PORT --movies N --series N --seasons N --episodes N --tracks N --user NAME --password PW``

Prints the server's URL once it is ready, then serves until SIGTERM or SIGINT.
"""

import argparse
import asyncio
import signal

from reeld.fakes.jellyfin.catalog import FakeJellyfin
from reeld.fakes.jellyfin.server import FakeJellyfinServer


async def serve(args: argparse.Namespace) -> None:
    fake = FakeJellyfin.generate(
        movies=args.movies,
        series=args.series,
        seasons=args.seasons,
        episodes=args.episodes,
        seed=args.seed,
        user=args.user,
        password=args.password,
        tracks=args.tracks,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with FakeJellyfinServer(fake, port=args.port) as server:
        print(server.url, flush=True)
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m reeld.fakes.jellyfin",
        description="A fake Jellyfin server on 127.0.0.1 over a generated catalog. Prints its URL once "
        "ready, then serves until SIGTERM or SIGINT.",
        epilog="Control API (JSON, no auth): POST /__control/mutate {action: add_movie | update | delete | "
        "played | approve_quick_connect, ...}; POST /__control/fault {kind: status | unauthorized | malformed "
        "| empty | truncated | drop | latency, path?, times?, status?, delay?}; POST /__control/clear; "
        "GET /__control/stats; POST /__control/reset.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--port", type=int, default=8096, help="port to listen on (0: any free one)")
    parser.add_argument("--movies", type=int, default=200, help="movies in the catalog")
    parser.add_argument("--series", type=int, default=20, help="series in the catalog")
    parser.add_argument("--seasons", type=int, default=3, help="seasons per series")
    parser.add_argument("--episodes", type=int, default=8, help="episodes per season")
    parser.add_argument(
        "--tracks", type=int, default=0, help="tracks per music album (one album per 50 movies)"
    )
    parser.add_argument("--user", default="demo", help="the one user's name")
    parser.add_argument("--password", default="demo", help="that user's password")
    parser.add_argument("--seed", type=int, default=0, help="catalog seed: the same seed, the same catalog")
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
