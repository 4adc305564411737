"""HTTP load at a constant arrival rate (open loop) or from a fixed set of clients (closed loop).

Open loop: request i is due at start + i / rate, whatever the server does, and
its latency counts from that due time, not from when it could be sent. A server
that stalls for a second therefore shows a second of latency on every request
that fell due meanwhile: coordinated omission is corrected, as in wrk2. At most
``max_in_flight`` requests are outstanding; one that falls due beyond that bound
is not sent and counts as an error of kind ``dropped``.

Closed loop: ``concurrency`` clients each send a request as soon as their previous
one answered (what the seed's 5,000 requests at concurrency 200 did). Its latency
counts from the send, so it reports what clients saw, not what arriving users
would have: a stall delays the next requests instead of queueing them.

Latencies go into an HDR histogram (HdrHistogram_py, microseconds, 3 significant
digits). The HTTP client is aiohttp: asyncio, keep-alive connections, measured
at over 1,000 requests/s on one core here (phase 7 reports the generator's own
ceiling beside every result). k6 and wrk2 cannot be installed on these machines.
"""
import asyncio
import collections
import time

try:
    import aiohttp
    HAS_AIOHTTP = True
except ImportError:
    HAS_AIOHTTP = False

try:
    from hdrh.histogram import HdrHistogram
    HAS_HDRH = True
except ImportError:
    HAS_HDRH = False

PERCENTILES = (("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("p999", 99.9))
HIGHEST_MICROSECONDS = 3_600_000_000


class LoadError(ValueError):
    pass


# --- results --------------------------------------------------------------------

def new_histogram():
    return HdrHistogram(1, HIGHEST_MICROSECONDS, 3)


def latency_summary(histogram):
    """Percentiles, max and mean of a histogram, in milliseconds (None when empty)."""
    if histogram.get_total_count() == 0:
        return {name: None for name, _percentile in PERCENTILES} | {"max": None, "mean": None}
    summary = {name: histogram.get_value_at_percentile(percentile) / 1000
               for name, percentile in PERCENTILES}
    summary["max"] = histogram.get_max_value() / 1000
    summary["mean"] = round(histogram.get_mean_value() / 1000, 3)
    return summary


def error_kind(status=None, exception=None):
    """What went wrong, as a short name: http_503, timeout, connect, dropped ..."""
    if exception is None:
        return f"http_{status}"
    if isinstance(exception, asyncio.TimeoutError):
        return "timeout"
    if HAS_AIOHTTP and isinstance(exception, aiohttp.ClientConnectorError):
        return "connect"
    if HAS_AIOHTTP and isinstance(exception, aiohttp.ServerDisconnectedError):
        return "disconnected"
    return type(exception).__name__


class Recorder:
    """What one run saw: latencies of good answers, errors by kind, answers inside the window."""

    def __init__(self):
        self.histogram = new_histogram()
        self.errors = collections.Counter()
        self.sent = 0
        self.ok = 0
        self.ok_in_window = 0

    def good(self, seconds, in_window):
        self.ok += 1
        self.ok_in_window += in_window
        self.histogram.record_value(max(1, int(seconds * 1_000_000)))

    def result(self, mode, window_seconds, started_at, **extra):
        attempted = self.sent + self.errors["dropped"]
        errors = sum(self.errors.values())
        return dict(
            mode=mode, sent=self.sent, ok=self.ok, errors=dict(sorted(self.errors.items())),
            error_ratio=round(errors / attempted, 6) if attempted else 0.0,
            throughput_rps=round(self.ok_in_window / window_seconds, 3) if window_seconds else 0.0,
            latency_ms=latency_summary(self.histogram),
            seconds=round(window_seconds, 3), started_at=round(started_at, 3),
            ended_at=round(started_at + window_seconds, 3), **extra)


# --- runs -----------------------------------------------------------------------

async def _request(session, url, recorder, counted_from, window_end, clock):
    try:
        async with session.get(url) as response:
            await response.read()
            status = response.status
    except (aiohttp.ClientError, asyncio.TimeoutError) as error:
        recorder.errors[error_kind(exception=error)] += 1
        return
    done = clock()
    if status >= 400:
        recorder.errors[error_kind(status=status)] += 1
    else:
        recorder.good(done - counted_from, done <= window_end)


async def open_loop(session, url, rate, seconds, max_in_flight, clock=time.monotonic):
    """One step at a constant arrival rate; latency counted from each request's due time."""
    recorder = Recorder()
    in_flight = set()
    count = max(1, int(round(rate * seconds)))
    start = clock() + 0.01
    wall_start = time.time() + (start - clock())
    end = start + seconds
    for index in range(count):
        due = start + index / rate
        wait = due - clock()
        if wait > 0:
            await asyncio.sleep(wait)
        if len(in_flight) >= max_in_flight:
            recorder.errors["dropped"] += 1
            continue
        recorder.sent += 1
        task = asyncio.ensure_future(_request(session, url, recorder, due, end, clock))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    if in_flight:
        await asyncio.gather(*list(in_flight))
    return recorder.result("open", seconds, wall_start, offered_rps=rate)


async def closed_loop(session, url, concurrency, requests=None, seconds=None,
                      clock=time.monotonic):
    """`concurrency` clients back to back, for `requests` in all or for `seconds`."""
    recorder = Recorder()
    remaining = [requests]
    start = clock()
    wall_start = time.time()
    deadline = start + seconds if seconds else None

    def more():
        if deadline is not None:
            return clock() < deadline
        if remaining[0] <= 0:
            return False
        remaining[0] -= 1
        return True

    async def client():
        while more():
            recorder.sent += 1
            sent_at = clock()
            await _request(session, url, recorder, sent_at, float("inf"), clock)

    await asyncio.gather(*(client() for _worker in range(concurrency)))
    elapsed = clock() - start
    return recorder.result("closed", elapsed, wall_start, concurrency=concurrency)


def stop_reason(step, max_error_ratio, max_p99_ms):
    """Why a sweep stops after this step, or None."""
    if step["error_ratio"] > max_error_ratio:
        return (f"errors {step['error_ratio']:.1%} at {step['offered_rps']:g} req/s "
                f"exceed {max_error_ratio:.1%}")
    p99 = step["latency_ms"]["p99"]
    if p99 is not None and p99 > max_p99_ms:
        return f"p99 {p99:.0f} ms at {step['offered_rps']:g} req/s exceeds {max_p99_ms:g} ms"
    return None


def within_slo(step, slo_p99_ms, max_error_ratio):
    """A step served within the objective: errors within the limit, p99 within the SLO, and
    the offered rate kept up with (95% of it achieved)."""
    p99 = step["latency_ms"]["p99"]
    return (step["error_ratio"] <= max_error_ratio and p99 is not None and p99 <= slo_p99_ms
            and step["throughput_rps"] >= 0.95 * step["offered_rps"])


def refine_rates(steps, slo_p99_ms, max_error_ratio, count):
    """``count`` rates between the highest step within the objective and the lowest step
    above it that is not, evenly spaced by ratio: where the knee lies, measured closer."""
    within = [step["offered_rps"] for step in steps if within_slo(step, slo_p99_ms, max_error_ratio)]
    if not within or count < 1:
        return []
    knee = max(within)
    beyond = [step["offered_rps"] for step in steps if step["offered_rps"] > knee
              and not within_slo(step, slo_p99_ms, max_error_ratio)]
    if not beyond:
        return []
    ratio = (min(beyond) / knee) ** (1 / (count + 1))
    return [round(knee * ratio ** index, 2) for index in range(1, count + 1)]


async def _steps(session, url, rates, step_seconds, max_in_flight, max_error_ratio, max_p99_ms):
    """Open-loop steps at ``rates`` in turn until one breaks a limit; the steps and why."""
    steps = []
    for rate in rates:
        step = await open_loop(session, url, rate, step_seconds, max_in_flight)
        steps.append(step)
        reason = stop_reason(step, max_error_ratio, max_p99_ms)
        if reason:
            return steps, reason
    return steps, None


async def sweep(session, url, rates, step_seconds, max_in_flight, max_error_ratio, max_p99_ms,
                warmup_seconds=0, slo_p99_ms=None, refine_steps=0):
    """Rising open-loop steps until one breaks a limit, after a warm-up at the first rate; then,
    with an objective, ``refine_steps`` more between the last step within it and the next.

    Returns the steps by offered rate (the refining ones marked ``refined``), why the rising
    steps stopped early (or None), and the warm-up's result."""
    warmup = None
    if warmup_seconds:
        warmup = await open_loop(session, url, rates[0], warmup_seconds, max_in_flight)
    steps, reason = await _steps(session, url, rates, step_seconds, max_in_flight,
                                 max_error_ratio, max_p99_ms)
    if slo_p99_ms is not None:
        refining, _reason = await _steps(
            session, url, refine_rates(steps, slo_p99_ms, max_error_ratio, refine_steps),
            step_seconds, max_in_flight, max_error_ratio, max_p99_ms)
        steps += [dict(step, refined=True) for step in refining]
    return sorted(steps, key=lambda step: step["offered_rps"]), reason, warmup


def session(max_in_flight, timeout, validate_certs=True):
    connector = aiohttp.TCPConnector(limit=max_in_flight, ssl=None if validate_certs else False)
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=timeout),
                                 headers={"User-Agent": "advwell-load-test"})


def run(coroutine_factory, max_in_flight, timeout, validate_certs=True):
    """Run `coroutine_factory(session)` in a new event loop and return its result."""
    async def main():
        async with session(max_in_flight, timeout, validate_certs) as client:
            return await coroutine_factory(client)
    return asyncio.run(main())


# --- reading a sweep -------------------------------------------------------------

def sweep_rates(start, factor, stop):
    """Rates from `start`, each `factor` times the one before, up to and including `stop`."""
    if start <= 0 or stop <= 0:
        raise LoadError(f"rates must be above 0, got start {start} and stop {stop}")
    if factor <= 1:
        raise LoadError(f"factor must be above 1, got {factor}")
    rates, rate = [], float(start)
    while rate <= stop * (1 + 1e-9):
        rates.append(round(rate, 2))
        rate *= factor
    return rates


def read_sweep(steps, generator_ceiling_rps, slo_p99_ms, max_error_ratio,
               generator_bound_share=0.1):
    """The sweep's ceiling (best throughput), its knee (the highest rate within the SLO), and
    each step marked generator-bound when it reached more than a tenth of the generator's
    own ceiling."""
    marked = []
    for step in steps:
        bound = bool(generator_ceiling_rps) and (
            step["throughput_rps"] > generator_bound_share * generator_ceiling_rps)
        marked.append(dict(step, generator_bound=bound))
    ceiling = max(marked, key=lambda step: step["throughput_rps"], default=None)
    within = [step for step in marked if within_slo(step, slo_p99_ms, max_error_ratio)]
    knee = max(within, key=lambda step: step["offered_rps"], default=None)
    return dict(
        steps=marked,
        ceiling_rps=ceiling["throughput_rps"] if ceiling else None,
        ceiling_offered_rps=ceiling["offered_rps"] if ceiling else None,
        knee_rps=knee["offered_rps"] if knee else None,
        knee_p99_ms=knee["latency_ms"]["p99"] if knee else None,
        generator_bound=any(step["generator_bound"] for step in marked))
