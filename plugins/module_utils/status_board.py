"""The status board: the seed's progress board, computed from checks of the live hosts.

Each check is one named fact about one host (or the controller), true or false, with a
short detail that holds no secret:

    {"phase": 4, "name": "FALTA REVOGAR TOKENS", "host": "app-vps", "ok": False,
     "detail": "/root/advwell/.env:3 GitHub Token"}

A phase's percentage is the share of its checks that pass, rounded down (a phase with one
failing check of many never shows 100%); the overall percentage is the mean of the phases'
shares, rounded down, as the seed's board averages its phases (seven at 100% and one at 90%
make its "98% CONCLUÍDO"). The board is drawn as the seed draws it, with bars of block
characters; the same numbers go into a JSON document for AWX or Semaphore.
"""
from fractions import Fraction

BAR_WIDTH = 20
FULL = "\u2588"   # █
EMPTY = "\u2591"  # ░
DONE = "\u2713 CONCLUÍDO"  # ✓
PARTIAL = "\u25d0"  # ◐
NONE = "\u2717"  # ✗


class StatusBoardError(ValueError):
    pass


def _phase_number(value, where):
    if isinstance(value, bool):
        raise StatusBoardError(f"{where}: phase {value!r} is not a phase number")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise StatusBoardError(f"{where}: phase {value!r} is not a phase number") from None
    if number < 1 or str(value).strip() != str(number):
        raise StatusBoardError(f"{where}: phase {value!r} is not a phase number (1 or more)")
    return number


def _check(index, check):
    where = f"check {index}"
    if not isinstance(check, dict):
        raise StatusBoardError(f"{where}: {check!r} is not a dict with phase, name and ok")
    for key in ("phase", "name", "ok"):
        if key not in check:
            raise StatusBoardError(f"{where}: missing '{key}' in {dict(check)!r}")
    name = check["name"]
    if not isinstance(name, str) or not name.strip():
        raise StatusBoardError(f"{where}: name {name!r} is not a non-empty string")
    if not isinstance(check["ok"], bool):
        raise StatusBoardError(f"{where} ({name}): ok {check['ok']!r} is not true or false")
    return {
        "phase": _phase_number(check["phase"], f"{where} ({name})"),
        "name": name.strip(),
        "host": str(check.get("host") or ""),
        "ok": check["ok"],
        "detail": str(check.get("detail") or ""),
    }


def _percent(share):
    return int(share * 100)  # Fraction: exact, and int() rounds down


def summarize(checks, titles):
    """Phases with at least one check, in phase order, with their share of passing checks."""
    titles = {_phase_number(number, "titles"): str(title) for number, title in dict(titles).items()}
    found = [_check(index, check) for index, check in enumerate(checks or [])]
    unknown = sorted({check["phase"] for check in found} - set(titles))
    if unknown:
        raise StatusBoardError(f"checks of phase {', '.join(map(str, unknown))} have no title in titles")
    phases = []
    for number in sorted(titles):
        mine = [check for check in found if check["phase"] == number]
        if not mine:
            continue
        passed = sum(1 for check in mine if check["ok"])
        failing = []
        for check in mine:
            if not check["ok"] and check["name"] not in failing:
                failing.append(check["name"])
        share = Fraction(passed, len(mine))
        phases.append({
            "phase": number, "title": titles[number], "share": share, "percent": _percent(share),
            "passed": passed, "total": len(mine), "failing": failing,
            "checks": [{key: check[key] for key in ("name", "host", "ok", "detail")} for check in mine],
        })
    return phases


def overall_percent(phases):
    """The mean of the phases' shares, rounded down; 0 with no phase."""
    if not phases:
        return 0
    return _percent(sum((phase["share"] for phase in phases), Fraction(0)) / len(phases))


def progress_bar(percent, width=BAR_WIDTH):
    """`width` cells, one full block per 100/width percent reached (rounded down)."""
    filled = min(width, max(0, int(percent) * width // 100))
    return FULL * filled + EMPTY * (width - filled)


def _mark(phase):
    """CONCLUÍDO, or the first failing check's name (and how many more fail; all are listed below)."""
    if phase["percent"] == 100:
        return DONE
    more = len(phase["failing"]) - 1
    return f"{NONE if phase['passed'] == 0 else PARTIAL} {phase['failing'][0]}" + (f" (+{more})" if more else "")


def render(phases, percent, generated_at=None):
    """The board's lines: a box as the seed's, each phase with its bar, then every failing check."""
    labels = [f"Fase {phase['phase']}: {phase['title']}" for phase in phases]
    label_width = max((len(label) for label in labels), default=0) + 3
    rows = [f"{label:<{label_width}}{progress_bar(phase['percent'])} {phase['percent']:>3}% {_mark(phase)}"
            for label, phase in zip(labels, phases)]
    title = f"PROGRESSO GERAL: {percent}% CONCLUÍDO"
    inner = max([len(title)] + [len(row) for row in rows]) + 4
    lines = ["\u250c" + "\u2500" * inner + "\u2510",
             "\u2502" + title.center(inner) + "\u2502",
             "\u251c" + "\u2500" * inner + "\u2524"]
    lines += ["\u2502  " + row.ljust(inner - 2) + "\u2502" for row in rows]
    lines.append("\u2514" + "\u2500" * inner + "\u2518")
    if generated_at:
        lines.append(f"Última atualização: {generated_at}")
    for phase in phases:
        for check in phase["checks"]:
            if not check["ok"]:
                where = f" ({check['host']})" if check["host"] else ""
                detail = f": {check['detail']}" if check["detail"] else ""
                lines.append(f"  {NONE} Fase {phase['phase']} {check['name']}{where}{detail}")
    return lines


def status_board(checks, titles, generated_at=None):
    """The JSON document: overall and per-phase percentages, every check, what fails, the board."""
    phases = summarize(checks, titles)
    percent = overall_percent(phases)
    return {
        "generated_at": generated_at,
        "percent": percent,
        "done": bool(phases) and all(phase["percent"] == 100 for phase in phases),
        "phases": [{key: value for key, value in phase.items() if key != "share"} for phase in phases],
        "failing": [dict(check, phase=phase["phase"]) for phase in phases for check in phase["checks"]
                    if not check["ok"]],
        "board": render(phases, percent, generated_at),
    }
