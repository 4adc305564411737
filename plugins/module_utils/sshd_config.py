"""sshd's effective configuration, as `sshd -T` prints it.

`sshd -T` prints one keyword (lower case) and its value per line, every keyword sshd knows,
after reading the main file, its drop-ins and (with `-C`) the Match blocks for one connection.
A keyword that takes several values is printed once per value (`port 22`, `port 2222`,
`hostkey ...`); a keyword whose value is a list is printed once, the list on the line
(`authorizedkeysfile .ssh/authorized_keys /etc/ssh/keys/%u`).
"""


def parse_effective(text):
    """{keyword: [each value, in order]} from `sshd -T`'s output. A line's value is kept whole
    (a list on one line stays one string: split it where the keyword is a list)."""
    effective = {}
    for line in text.splitlines():
        keyword, _space, value = line.strip().partition(" ")
        if keyword:
            effective.setdefault(keyword.lower(), []).append(value.strip())
    return effective
