"""A TCP proxy that delays every byte by a fixed time in each direction (lab only).

    latency_proxy.py --listen 0.0.0.0:15432 --connect 172.17.0.2:5432 --delay-ms 42.5

The lab's hosts are containers on one machine, a fraction of a millisecond apart;
production's are 85 ms apart, and that distance is what sets the backend's
capacity (phase 7). This kernel has no `tc netem`, so the capacity test puts this
proxy in the database path instead (lab/tasks/latency_proxy.yml). Half the round
trip each way gives the whole round trip to every query; data keeps its order and
is never held longer than the delay, however much of it arrives meanwhile.
TLS passes through untouched: the client still verifies the server.
"""
import argparse
import asyncio
import logging
import signal

CHUNK = 64 * 1024
log = logging.getLogger("latency-proxy")


def host_port(text):
    host, _sep, port = text.rpartition(":")
    return host.strip("[]"), int(port)


async def delayed_copy(reader, writer, delay):
    """Copy reader to writer, each chunk written `delay` seconds after it arrived."""
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()

    async def pump():
        while True:
            data = await reader.read(CHUNK)
            await queue.put((loop.time() + delay, data))
            if not data:
                return

    pumping = asyncio.ensure_future(pump())
    try:
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                if writer.can_write_eof():
                    writer.write_eof()
                return
            writer.write(data)
            await writer.drain()
    finally:
        pumping.cancel()


async def serve_client(client_reader, client_writer, upstream, delay):
    try:
        server_reader, server_writer = await asyncio.open_connection(*upstream)
    except OSError as error:
        log.warning("cannot reach %s:%d: %s", *upstream, error)
        client_writer.close()
        return
    try:
        await asyncio.gather(delayed_copy(client_reader, server_writer, delay),
                             delayed_copy(server_reader, client_writer, delay))
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        for writer in (client_writer, server_writer):
            writer.close()


async def main(listen, upstream, delay):
    server = await asyncio.start_server(
        lambda r, w: serve_client(r, w, upstream, delay), *listen, reuse_address=True)
    log.info("listening on %s:%d, forwarding to %s:%d, %.1f ms each way",
             *listen, *upstream, delay * 1000)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", type=host_port, required=True, help="host:port to accept on")
    parser.add_argument("--connect", type=host_port, required=True, help="host:port to forward to")
    parser.add_argument("--delay-ms", type=float, required=True,
                        help="added in each direction (half the round trip)")
    args = parser.parse_args()
    if args.delay_ms < 0:
        parser.error("--delay-ms must be 0 or more")
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    asyncio.run(main(args.listen, args.connect, args.delay_ms / 1000))
