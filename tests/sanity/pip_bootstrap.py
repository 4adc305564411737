"""advwell.platform: stands in for get-pip.py in ansible-test's sanity virtualenvs.

ansible-test makes every sanity test's virtualenv without pip and then runs a pip bootstrap
script it downloads from ci-files.testing.ansible.com, a host this machine cannot reach. It
looks for that script in ~/.ansible/test/cache/get_pip_<pip version>.py first, so
scripts/ecosystem copies this file there. ansible-test runs it with the new virtualenv's
Python and get-pip.py's arguments (pip options, then the packages: pip==<version>):
this installs pip with the standard library's ensurepip, then the requested packages
from the package index pip is configured with (PyPI), and leaves out setuptools and wheel
when asked to, as get-pip.py does.
"""
import subprocess
import sys

GET_PIP_ONLY = ("--no-setuptools", "--no-wheel")


def main(args):
    subprocess.run([sys.executable, "-m", "ensurepip", "--upgrade"], stdout=subprocess.DEVNULL, check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q"] + [arg for arg in args if arg not in GET_PIP_ONLY],
                   check=True)
    # ensurepip also installs setuptools on Python < 3.12.
    if "--no-setuptools" in args:
        subprocess.run([sys.executable, "-m", "pip", "uninstall", "-q", "-y", "setuptools"], check=False)


if __name__ == "__main__":
    main(sys.argv[1:])
