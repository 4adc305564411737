"""Syntax checks for host names, addresses and ports, shared by tests and filters."""
import ipaddress
import re

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$", re.IGNORECASE)


def is_hostname(value):
    """RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens."""
    if not isinstance(value, str) or not value or len(value) > 253:
        return False
    name = value[:-1] if value.endswith(".") else value
    return all(_LABEL.match(label) for label in name.split("."))


def is_address_or_network(value):
    """An IPv4/IPv6 address or network in CIDR notation (host bits may be set)."""
    if not isinstance(value, str):
        return False
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return True


def is_port(value):
    """A TCP/UDP port number, 1-65535, given as an int or a string of digits."""
    if isinstance(value, bool):
        return False
    if isinstance(value, str):
        if not value.isdigit():
            return False
        value = int(value)
    return isinstance(value, int) and 1 <= value <= 65535


def normalize_source(value):
    """'any', or an address/network written the way ufw prints it (host routes bare)."""
    if value in (None, "", "any", "0.0.0.0/0", "::/0"):
        return "any"
    network = ipaddress.ip_network(value, strict=False)
    if network.prefixlen == network.max_prefixlen:
        return str(network.network_address)
    return str(network)


def is_host_port(value):
    """'host:port' with a host name or IPv4 address, or '[IPv6]:port' (a scrape target)."""
    if not isinstance(value, str):
        return False
    host, sep, port = value.rpartition(":")
    if not sep or not is_port(port):
        return False
    if host.startswith("[") and host.endswith("]"):
        try:
            return ipaddress.ip_address(host[1:-1]).version == 6
        except ValueError:
            return False
    if re.fullmatch(r"[0-9.]+", host):
        try:
            return ipaddress.ip_address(host).version == 4
        except ValueError:
            return False
    return is_hostname(host)


def host_network(value):
    """An address or network as CIDR: a bare address becomes its own /32 or /128."""
    return str(ipaddress.ip_network(value, strict=False))


def subject_alt_name(value):
    """A certificate's subjectAltName entry for a name clients dial: IP:... or DNS:..."""
    try:
        return "IP:" + str(ipaddress.ip_address(value))
    except ValueError:
        if not is_hostname(value):
            raise ValueError(f"'{value}' is neither an IP address nor a host name") from None
        return "DNS:" + value.rstrip(".")


def url_host(value):
    """A host as it goes into a URL or libpq host: IPv6 addresses in brackets."""
    try:
        return f"[{value}]" if ipaddress.ip_address(value).version == 6 else value
    except ValueError:
        return value
