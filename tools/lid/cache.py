"""Where the tools keep generated corpora, features and runs: $LANGHOOK_LID_CACHE, else
$XDG_CACHE_HOME/langhook/lid, else ~/.cache/langhook/lid. Never a path of one machine."""

import os


def cache_dir(*parts: str) -> str:
    base = os.environ.get("LANGHOOK_LID_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "langhook", "lid")
    return os.path.join(base, *parts)
