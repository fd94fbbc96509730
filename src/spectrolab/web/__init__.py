"""The web editor (``spectrolab serve``): a static page over a small JSON API on the library's edit functions."""

from spectrolab.web.app import create_app
from spectrolab.web.settings import Limits, WebSettings

__all__ = ["Limits", "WebSettings", "create_app"]
