"""Command blocks of the generated runbooks (phase 8), read back so that they can be tested.

A runbook's commands are fenced code blocks whose info string names the shell and what
kind of block it is, and whose first line names the host it runs on::

    ```bash safe
    # on app-vps
    docker service ps advtom_backend
    ```

``safe`` blocks change nothing and are run against the hosts by the platform's verify;
``destructive`` blocks change something (a failover, a restore, a rotation) and are only
checked (``bash -n``, and every playbook they name must exist); ``long`` blocks change
nothing but take minutes (a whole ``--check`` run) and are checked like destructive ones.
The host line is ``# on <inventory host>`` or ``# on the controller``.
"""
import re

KINDS = ("safe", "destructive", "long")
SHELLS = ("bash", "sh")
CONTROLLER = "controller"

_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
_HOST = re.compile(r"^#\s*on\s+(?:the\s+(?P<controller>controller)|(?P<host>[A-Za-z0-9_.-]+))\s*$")
_PLAYBOOK = re.compile(r"(?<![A-Za-z0-9_./-])(?:[A-Za-z0-9_./-]*/)?playbooks/([A-Za-z0-9_]+\.ya?ml)\b")


class RunbookError(ValueError):
    pass


def playbooks_named(script):
    """File names of the playbooks/<name>.yml a script names, in order of first mention."""
    names = []
    for name in _PLAYBOOK.findall(script):
        if name not in names:
            names.append(name)
    return names


def command_blocks(text, document=""):
    """Every marked shell block of ``text`` (Markdown) as a dict.

    Each has ``document``, ``line`` (of its opening fence, from 1), ``shell``, ``kind``
    (one of KINDS), ``host`` (an inventory host, or ``controller``), ``script`` (the
    block without its host line, ending with a newline) and ``playbooks`` (the
    playbooks/*.yml it names). A shell block without a kind, with an unknown kind, or
    without its host line, and a fence left open, are errors: every command in a
    generated runbook is either run or checked.
    """
    where = f"{document}:" if document else "line "
    blocks = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        fence, info, start = opening.group("fence"), opening.group("info").split(), index + 1
        body = []
        index += 1
        while index < len(lines):
            closing = _FENCE.match(lines[index])
            if closing and closing.group("fence")[0] == fence[0] and len(closing.group("fence")) >= len(fence) \
                    and not closing.group("info").strip():
                break
            body.append(lines[index])
            index += 1
        else:
            raise RunbookError(f"{where}{start}: the code block is never closed")
        index += 1
        if not info or info[0] not in SHELLS:
            continue
        kind = info[1] if len(info) > 1 else None
        if kind not in KINDS or len(info) > 2:
            raise RunbookError(f"{where}{start}: a {info[0]} block must be marked {' or '.join(KINDS)} "
                               f"(```{info[0]} safe), got ```{' '.join(info)}")
        first = next((number for number, line in enumerate(body) if line.strip()), None)
        host = _HOST.match(body[first].strip()) if first is not None else None
        if not host:
            raise RunbookError(f"{where}{start}: the block's first line must name its host "
                               f"('# on app-vps' or '# on the controller')")
        script = "\n".join(body[first + 1:]).strip("\n")
        if not script.strip():
            raise RunbookError(f"{where}{start}: the block has no command")
        blocks.append({
            "document": document,
            "line": start,
            "shell": info[0],
            "kind": kind,
            "host": CONTROLLER if host.group("controller") else host.group("host"),
            "script": script + "\n",
            "playbooks": playbooks_named(script),
        })
    return blocks
