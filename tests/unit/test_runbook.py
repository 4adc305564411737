"""Command blocks of phase 8's runbooks, read back for the platform's verify."""
import pytest

from ansible_collections.advwell.platform.plugins.module_utils.runbook import (
    RunbookError, command_blocks, playbooks_named)

DOCUMENT = """# Runbooks

Some prose, and a block that is no shell:

```yaml
key: value
```

```bash safe
# on app-vps
docker service ps advtom_backend
docker service ls
```

```bash destructive

# on db-vps
/root/advwell-db/scripts/restore.sh swap advtom_restore
```

~~~sh long
# on the controller
ansible-playbook -i inventory/lab playbooks/site.yml --check
# then ../playbooks/phase5_restore.yml and playbooks/phase5_restore.yml again
~~~
"""


def test_blocks_with_their_kind_host_script_and_line():
    blocks = command_blocks(DOCUMENT, "RUNBOOKS.md")
    assert [(b["kind"], b["host"], b["line"], b["shell"]) for b in blocks] == [
        ("safe", "app-vps", 9, "bash"), ("destructive", "db-vps", 15, "bash"), ("long", "controller", 21, "sh")]
    assert blocks[0]["script"] == "docker service ps advtom_backend\ndocker service ls\n"
    assert blocks[1]["script"] == "/root/advwell-db/scripts/restore.sh swap advtom_restore\n"
    assert all(b["document"] == "RUNBOOKS.md" for b in blocks)


def test_playbooks_a_block_names_once_each_in_order():
    blocks = command_blocks(DOCUMENT)
    assert blocks[2]["playbooks"] == ["site.yml", "phase5_restore.yml"]
    assert blocks[0]["playbooks"] == []
    assert playbooks_named("x=playbooks/phase8_docs.yaml; cat notplaybooks/a.yml") == ["phase8_docs.yaml"]


def test_a_longer_fence_holds_a_shorter_one():
    text = "````bash safe\n# on app-vps\necho '```'\n```\n````\n"
    assert command_blocks(text)[0]["script"] == "echo '```'\n```\n"


@pytest.mark.parametrize("text,message", [
    ("```bash\n# on app-vps\nls\n```\n", "must be marked safe or destructive or long"),
    ("```bash harmless\n# on app-vps\nls\n```\n", "got ```bash harmless"),
    ("```bash safe extra\n# on app-vps\nls\n```\n", "got ```bash safe extra"),
    ("```bash safe\nls\n```\n", "first line must name its host"),
    ("```bash safe\n# on app-vps\n\n```\n", "no command"),
    ("text\n```bash safe\n# on app-vps\nls\n", "line 2: the code block is never closed"),
], ids=["unmarked", "unknown kind", "two kinds", "no host", "empty", "open fence"])
def test_blocks_that_would_go_untested_are_errors(text, message):
    with pytest.raises(RunbookError, match=message.replace("*", r"\*")):
        command_blocks(text)


def test_the_error_names_the_document():
    with pytest.raises(RunbookError, match=r"^RUNBOOKS.md:1: "):
        command_blocks("```bash\nls\n```\n", "RUNBOOKS.md")


def test_other_languages_and_prose_are_left_alone():
    assert command_blocks("```\nplain\n```\n```python\nprint(1)\n```\n`bash safe` inline\n") == []
