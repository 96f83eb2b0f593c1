"""The media plane: where the media library meets users, the access policy, the database and the audit
trail. The library below it (engine, channels, live outputs, restream, recorder) knows camera ids and
access units only.

- `plane.py`: `MediaPlane` (engine + live gateway + tokens + policy + audit of live sessions)
- `rtsp.py`: the RTSP restream's side (Digest users, the policy per camera, audit; the credentials route)
- `health_views.py`: camera health and storage events for the console"""

from xueliang.media.plane.plane import LIVE_PREFIX, MediaPlane, PlaneEvent, PlaneHook

__all__ = ["LIVE_PREFIX", "MediaPlane", "PlaneEvent", "PlaneHook"]
