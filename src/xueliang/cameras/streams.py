"""What the camera routes need of the media plane, named here so that cameras does not import media.

The plane registers itself under this class (`ctx.services.add(plane, LiveStreams)`); a node without
the media engine registers nothing, and opening a camera then answers no stream URLs."""

from __future__ import annotations


class LiveStreams:
    def stream_urls(self, user_id: int, camera_id: int) -> dict[str, str]:
        """Signed, short-lived URLs bound to user, camera and action; asked only after the policy said yes."""
        raise NotImplementedError

    def masked_stream_urls(self, user_id: int, camera_id: int) -> dict[str, str]:
        """The URLs of the camera's masked variant (cameras/masks.py says who must get it). A service
        that cannot mask gives none: a viewer who must see the camera masked never gets the original."""
        return {}
