"""detect-secrets plugins for tokens its own plugins do not know (loaded with -p / plugins_used)."""
import re

from detect_secrets.plugins.base import RegexBasedDetector


class DockerHubTokenDetector(RegexBasedDetector):
    """Docker Hub personal (dckr_pat_) and organisation (dckr_oat_) access tokens."""

    secret_type = "Docker Hub Token"
    denylist = [re.compile(r"\bdckr_(?:pat|oat)_[A-Za-z0-9_-]{20,}")]
