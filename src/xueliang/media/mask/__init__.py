"""Privacy masks on the server: decode, fill polygons, encode (PyAV/libx264), so a viewer who may not
see behind a mask never receives those pixels. Knows no user or camera row (the plane decides who gets
the masked variant); PyAV and numpy load only when a masked stream or still is first made."""

from xueliang.media.mask.raster import Polygon, Polygons, normalise
from xueliang.media.mask.source import MaskedSource, MaskedSourceConfig

__all__ = ["MaskedSource", "MaskedSourceConfig", "Polygon", "Polygons", "normalise"]
