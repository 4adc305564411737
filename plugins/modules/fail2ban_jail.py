#!/usr/bin/python
# Copyright: (c) 2026, AdvWell platform engineers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Manages one fail2ban jail as a jail.d drop-in, validated before it goes live."""

DOCUMENTATION = r"""
---
module: fail2ban_jail
short_description: Manage a fail2ban jail as a validated jail.d drop-in and report its bans
version_added: 0.1.0
description:
  - Writes one jail to C(<config_dir>/jail.d/<name>.local), a file of its own with a header
    saying that Ansible manages it. C(jail.conf) and other files are never written.
  - Why a module? community.general has no fail2ban module that validates a drop-in before
    the reload and reports bans. Templating the file and reloading the service puts an invalid
    jail live (fail2ban then refuses the whole configuration at the next start), and does not
    say what the jail has banned.
  - Before the file goes live, the whole configuration is validated with it (or, for
    O(state=absent), without it) in a temporary copy of O(config_dir), with
    C(fail2ban-client -c <copy> -t). If fail2ban rejects it, the module fails with fail2ban's
    errors, and neither the live file nor the daemon are touched. This also runs in check mode.
  - The file is written to a temporary name in C(jail.d) and renamed over the old one, so
    fail2ban never reads half a file.
  - Then the running daemon is told with C(fail2ban-client reload <name>) (a jail it runs,
    which keeps its bans) or C(fail2ban-client reload) (a new jail, or a removed file), and
    the module checks that the jail runs (or, with O(enabled=false), does not).
  - Returns the jail's counts and banned IP addresses from C(fail2ban-client status <name>),
    also when nothing changed and in check mode.
  - Only the options that are set are written; the others keep the values of C(jail.conf)'s
    C([DEFAULT]) section and C(jail.local).
author:
  - AdvWell platform engineers (!UNKNOWN)
options:
  name:
    description:
      - Name of the jail, also the file's name. Letters, digits, V(_), V(-) and V(.), starting
        with a letter, digit or V(_), without V(..).
    type: str
    required: true
  state:
    description:
      - V(present) writes the drop-in; V(absent) removes it (after validating the configuration
        without it) and reloads the daemon.
    type: str
    choices: [present, absent]
    default: present
  config_dir:
    description:
      - fail2ban's configuration directory (with C(jail.conf)). The daemon's socket is found
        from this directory's C(fail2ban.conf) and C(fail2ban.local).
    type: path
    default: /etc/fail2ban
  enabled:
    description: Whether the jail runs (C(enabled)).
    type: bool
    default: true
  filter:
    description: Filter in C(filter.d) (C(filter)), for example V(sshd) or V(sshd[mode=aggressive]).
    type: str
  port:
    description: Ports the ban actions block (C(port)), for example V(ssh) or V(http,https).
    type: str
  backend:
    description: How the log is watched (C(backend)), for example V(systemd), V(polling), V(auto).
    type: str
  maxretry:
    description: Failures within O(findtime) that ban an address (C(maxretry)). 1 or more.
    type: int
  findtime:
    description:
      - Window in which failures are counted (C(findtime)), in seconds or with fail2ban's units
        (V(s), V(m), V(h), V(d), V(w), V(mo), V(y)), several in a row allowed (V(1h30m)).
        More than 0.
    type: raw
  bantime:
    description:
      - How long an address stays banned (C(bantime)), as for O(findtime); V(-1) bans for good.
    type: raw
  bantime_increment:
    description: Ban repeat offenders longer each time (C(bantime.increment)).
    type: bool
  bantime_factor:
    description: Factor of the ban time increase (C(bantime.factor)). More than 0.
    type: float
  bantime_maxtime:
    description: Longest ban when O(bantime_increment) is on (C(bantime.maxtime)), as for O(findtime).
    type: raw
  ignoreip:
    description: Addresses and networks never banned (C(ignoreip)). Include the hosts you manage from.
    type: list
    elements: str
  action:
    description:
      - Action(s) taken on a ban (C(action)), for example V(%(action_mw\)s) or
        V(nftables-multiport[name=ssh]). Several lines are several actions.
    type: str
  logpath:
    description: Log files the jail reads (C(logpath)); not needed with O(backend=systemd).
    type: list
    elements: path
  reload:
    description:
      - Tell the running daemon about the change and report the jail's status.
      - With V(true) (the default), a daemon that does not run is an error, so that a jail is
        not silently left unenforced.
      - With V(false), only the file is written (for example before fail2ban is started);
        the status is still returned when the daemon runs.
    type: bool
    default: true
  executable:
    description: Path of C(fail2ban-client). By default it is looked for in E(PATH) and the sbin directories.
    type: path
notes:
  - Files in C(jail.d) are read in this order - C(*.conf), then C(jail.local), then C(*.local),
    each group sorted by name - so another C(jail.d/*.local) sorted after this one can still
    change the jail.
attributes:
  check_mode:
    support: full
    description: Validates the candidate configuration in a temporary copy and reports whether
      the file or the daemon would change; writes nothing and does not reload.
  diff_mode:
    support: full
    description: The drop-in's text before and after.
seealso:
  - name: fail2ban jail.conf(5)
    description: The jail options.
    link: https://manpages.debian.org/bookworm/fail2ban/jail.conf.5.en.html
"""

EXAMPLES = r"""
- name: Ban SSH brute force for an hour, longer for repeat offenders
  advwell.platform.fail2ban_jail:
    name: sshd
    filter: sshd
    port: ssh
    backend: systemd
    maxretry: 3
    findtime: 10m
    bantime: 1h
    bantime_increment: true
    bantime_factor: 2
    bantime_maxtime: 1w
    ignoreip: [127.0.0.1/8, "::1", 10.0.0.5]
  register: sshd_jail

- name: Show who is banned
  ansible.builtin.debug:
    msg: "{{ sshd_jail.status.banned_ips }}"

- name: Write the jail before fail2ban runs (no reload)
  advwell.platform.fail2ban_jail:
    name: nginx-limit-req
    filter: nginx-limit-req
    port: http,https
    logpath: [/var/log/nginx/error.log]
    reload: false

- name: Remove a jail
  advwell.platform.fail2ban_jail:
    name: old-jail
    state: absent
"""

RETURN = r"""
file:
  description:
    - The drop-in file. (Not C(path), for which Ansible would add the file's owner, mode and
      a C(state) to the result.)
  returned: always
  type: str
  sample: /etc/fail2ban/jail.d/sshd.local
daemon_running:
  description: Whether fail2ban-server answered C(fail2ban-client ping).
  returned: always
  type: bool
  sample: true
reloaded:
  description: The C(fail2ban-client) reload that was run (V(reload sshd) or V(reload)), or null.
  returned: always
  type: str
  sample: reload sshd
running:
  description: Whether the daemon runs the jail at the end (in check mode, before any change).
  returned: when the daemon runs
  type: bool
  sample: true
jails:
  description: The jails the daemon runs at the end.
  returned: when the daemon runs
  type: list
  elements: str
  sample: [recidive, sshd]
status:
  description:
    - The jail's C(fail2ban-client status <name>) at the end (in check mode, before any change);
      null when the daemon does not run the jail.
  returned: when the daemon runs
  type: dict
  contains:
    currently_failed:
      description: Addresses with failures that are not banned (yet).
      type: int
    total_failed:
      description: Failures seen since the jail started.
      type: int
    currently_banned:
      description: Addresses banned now.
      type: int
    total_banned:
      description: Bans since the jail started.
      type: int
    banned_ips:
      description: The addresses banned now.
      type: list
      elements: str
    file_list:
      description: The log files the jail reads (empty with the systemd backend).
      type: list
      elements: str
  sample: {currently_failed: 1, total_failed: 6, currently_banned: 1, total_banned: 1,
           banned_ips: [192.0.2.7], file_list: [/var/log/auth.log]}
diff:
  description: The drop-in's text before and after (with C(--diff)); empty text for no file.
  returned: when diff mode is on
  type: dict
"""

import os
import shutil
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.advwell.platform.plugins.module_utils.fail2ban_jail import (
    jail_list, jail_status, params_problems, reload_command, render)


class Jail:
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.name = self.params["name"]
        self.config_dir = self.params["config_dir"]
        self.path = os.path.join(self.config_dir, "jail.d", self.name + ".local")
        self.result = {"changed": False, "file": self.path, "daemon_running": False, "reloaded": None}
        self.client = None

    def fail(self, msg):
        self.module.fail_json(msg=msg, **self.result)

    def f2b(self, *words, config_dir=None):
        return self.module.run_command([self.client, "-c", config_dir or self.config_dir, *words])

    def read(self):
        try:
            with open(self.path, encoding="utf-8") as handle:
                return handle.read()
        except FileNotFoundError:
            return None

    def validate(self, content):
        """Runs `fail2ban-client -t` on a copy of the configuration with `content` as the file
        (None: without it); fails with fail2ban's errors if it rejects that."""
        workdir = tempfile.mkdtemp(prefix="fail2ban-jail-")
        copy = os.path.join(workdir, "fail2ban")
        try:
            try:
                shutil.copytree(self.config_dir, copy, symlinks=True)
            except (OSError, shutil.Error) as error:
                self.fail(f"cannot copy {self.config_dir} to validate the configuration: {error}")
            candidate = os.path.join(copy, "jail.d", self.name + ".local")
            if content is None:
                if os.path.lexists(candidate):
                    os.unlink(candidate)
            else:
                os.makedirs(os.path.dirname(candidate), exist_ok=True)
                with open(candidate, "w", encoding="utf-8") as handle:
                    handle.write(content)
            rc, out, err = self.f2b("-t", config_dir=copy)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        if rc != 0:
            text = (err + out).replace(copy, self.config_dir)
            errors = [line.split("ERROR", 1)[1].strip() for line in text.splitlines()
                      if "ERROR" in line and "test configuration failed" not in line]
            what = "without" if content is None else "with"
            self.fail(f"fail2ban rejects the configuration {what} jail.d/{self.name}.local, so nothing "
                      f"was changed: {'; '.join(errors) or text.strip()}")

    def write(self, content):
        if content is None:
            os.unlink(self.path)
            return
        directory = os.path.dirname(self.path)
        os.makedirs(directory, mode=0o755, exist_ok=True)
        # A name fail2ban does not read (it reads *.conf and *.local), renamed over the file.
        fd, temp = tempfile.mkstemp(dir=directory, prefix=f".{self.name}.", suffix=".tmp")
        self.module.add_cleanup_file(temp)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
        os.chmod(temp, 0o644)
        self.module.atomic_move(temp, self.path)

    def daemon_jails(self):
        rc, out, err = self.f2b("status")
        if rc != 0:
            self.fail(f"fail2ban-client status failed: {(err or out).strip()}")
        return jail_list(out)

    def report(self, jails):
        running = self.name in jails
        self.result.update(jails=jails, running=running, status=None)
        if running:
            rc, out, err = self.f2b("status", self.name)
            if rc != 0:
                self.fail(f"fail2ban-client status {self.name} failed: {(err or out).strip()}")
            self.result["status"] = jail_status(out)

    def run(self):
        params = self.params
        problems = params_problems(params)
        if problems:
            self.fail("; ".join(problems))
        if not os.path.isfile(os.path.join(self.config_dir, "jail.conf")):
            self.fail(f"config_dir: {self.config_dir} has no jail.conf; is fail2ban installed?")
        self.client = params["executable"] or self.module.get_bin_path("fail2ban-client", required=True)

        rc, out, err = self.f2b("ping")
        self.result["daemon_running"] = daemon = rc == 0
        if not daemon and params["reload"]:
            self.fail(f"fail2ban-server is not running (fail2ban-client -c {self.config_dir} ping: "
                      f"{(err or out).strip()}); start it, or set reload=false to only write the file")

        present = params["state"] == "present"
        before, after = self.read(), render(params) if present else None
        file_changed = before != after
        jails = self.daemon_jails() if daemon else []
        was_running = self.name in jails
        want_running = present and params["enabled"]
        # A jail the daemon neither runs nor should run needs no reload.
        daemon_change = daemon and params["reload"] and (want_running or was_running) and (
            file_changed or (present and want_running != was_running))
        # Validated first: a rejected jail fails with changed=false, as nothing was written.
        if file_changed:
            self.validate(after)
        self.result["changed"] = file_changed or daemon_change
        if self.module._diff:
            self.result["diff"] = {"before": before or "", "after": after or "",
                                   "before_header": self.path, "after_header": self.path}
        if not self.module.check_mode:
            if file_changed:
                self.write(after)
            if daemon_change:
                command = reload_command(self.name, was_running, present)
                rc, out, err = self.f2b(*command)
                if rc != 0:
                    self.fail(f"the file is changed, but fail2ban-client {' '.join(command)} failed: "
                              f"{(err or out).strip()}")
                self.result["reloaded"] = " ".join(command)
                jails = self.daemon_jails()
                if present and (self.name in jails) != want_running:
                    self.fail(f"jail {self.name} {'does not run' if want_running else 'still runs'} "
                              f"after fail2ban-client {' '.join(command)}; see fail2ban's log")
        if daemon:
            self.report(jails)
        self.module.exit_json(**self.result)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            config_dir=dict(type="path", default="/etc/fail2ban"),
            enabled=dict(type="bool", default=True),
            filter=dict(type="str"),
            port=dict(type="str"),
            backend=dict(type="str"),
            maxretry=dict(type="int"),
            findtime=dict(type="raw"),
            bantime=dict(type="raw"),
            bantime_increment=dict(type="bool"),
            bantime_factor=dict(type="float"),
            bantime_maxtime=dict(type="raw"),
            ignoreip=dict(type="list", elements="str"),
            action=dict(type="str"),
            logpath=dict(type="list", elements="path"),
            reload=dict(type="bool", default=True),
            executable=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    Jail(module).run()


if __name__ == "__main__":
    main()
