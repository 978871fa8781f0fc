"""What the host system provides outside Python: a CJK font (for PDFs) and Chromium (browser tests).

Debian/Ubuntu: ``apt-get install fonts-noto-cjk chromium``. Used by ``manage.py check_system``,
the PDF code (refuse to print blank boxes) and the browser tests (find the browser).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path

FONT_PACKAGE = "fonts-noto-cjk"
CHROMIUM_PACKAGE = "chromium"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
NOTO_CJK_GLOBS = (
    "/usr/share/fonts/opentype/noto/Noto*CJK*",
    "/usr/share/fonts/truetype/noto/Noto*CJK*",
    "/usr/share/fonts/**/Noto*CJK*",
    "/usr/local/share/fonts/**/Noto*CJK*",
)

_cjk_found = False  # a positive answer is cached; a negative one is checked again next time


def cjk_font_families() -> list[str]:
    """Font families fontconfig reports for Chinese (``fc-list :lang=zh family``); [] if none."""
    fc_list = shutil.which("fc-list")
    if not fc_list:
        return []
    try:
        result = subprocess.run(  # noqa: S603 (fc-list, found on PATH, fixed arguments)
            [fc_list, ":lang=zh", "family"],
            capture_output=True,
            text=True,
            timeout=15,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    families = {
        name.strip() for line in result.stdout.splitlines() for name in line.split(",") if name.strip()
    }
    return sorted(families, key=lambda name: ("SC" not in name, name))  # Simplified Chinese first


def noto_cjk_files() -> list[Path]:
    """Noto CJK font files present in the usual Debian locations."""
    found: set[Path] = set()
    for pattern in NOTO_CJK_GLOBS:
        found.update(Path(p) for p in glob.glob(pattern, recursive=True) if os.path.isfile(p))
    return sorted(found)


def cjk_font_available() -> bool:
    """True when a font with Chinese glyphs is installed (fontconfig knows one, or Noto CJK files exist)."""
    global _cjk_found
    if not _cjk_found:
        _cjk_found = bool(cjk_font_families() or noto_cjk_files())
    return _cjk_found


def chromium_path() -> str | None:
    """The Chromium executable: ``$JINSHEQU_CHROMIUM``, else ``/usr/bin/chromium``, else one on PATH."""
    candidates = [os.environ.get("JINSHEQU_CHROMIUM", ""), DEFAULT_CHROMIUM]
    candidates += [shutil.which(name) or "" for name in ("chromium", "chromium-browser")]
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def install_hint(*, font: bool, chromium: bool) -> str:
    """The apt-get command that installs whatever is missing ("" when nothing is)."""
    packages = [p for p, missing in ((FONT_PACKAGE, font), (CHROMIUM_PACKAGE, chromium)) if missing]
    return f"apt-get install {' '.join(packages)}" if packages else ""
