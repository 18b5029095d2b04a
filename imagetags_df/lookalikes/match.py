"""Is picture B the same picture as A? Local-feature matching with a geometric check.

Embeddings say two pictures *look alike*; they cannot tell a copy from a crop of one half of
it (the left 45 % of a photo is a different picture, yet its features sit close to the
whole's). This module answers the stricter question for one pair:

1. ORB keypoints on both (grayscale, longest side :data:`MATCH_SIDE`), kept for the run;
2. Lowe's ratio test on the two nearest descriptors (:data:`RATIO`);
3. a RANSAC homography from B to A, with at least :data:`MIN_INLIERS` inliers;
4. the *overlap*: the share of A that B's outline covers once mapped into A, and the share of
   B that A's outline covers. A resized, recompressed, brightened, captioned or slightly
   rotated copy covers both ~100 %; a 5 % crop each side covers 81 % of the original; the
   left 45 % of a photo covers 45 % of the whole, and the two halves do not match at all.

A mirror image is tried when the direct match fails. Pictures too plain for keypoints (a sky,
a gradient) fall back to a perceptual hash of the same outline (:func:`phash`), held to a
strict distance.

>>> import numpy as np
>>> from PIL import Image
>>> rng = np.random.default_rng(0)
>>> im = Image.fromarray((rng.random((240, 320)) * 255).astype("uint8")).resize((640, 480))
>>> same = overlap(features(im), features(im.resize((320, 240))))
>>> round(min(same.share_a, same.share_b), 1)
1.0
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

#: Pictures are matched at this longest side: enough keypoints for a photo, a few ms each.
MATCH_SIDE = 512
#: Keypoints per picture.
N_FEATURES = 1000
#: Lowe's ratio: the best match must be this much closer than the second best.
RATIO = 0.75
#: Matches that agree with one homography before the pair counts as matched at all.
MIN_INLIERS = 15
#: RANSAC's reprojection tolerance, in pixels at MATCH_SIDE.
RANSAC_PX = 6.0
#: The photometric check's resolution (longest side).
THUMB_SIDE = 96
#: Grey-level spread (std, of 255) under which a picture is blank and its hash says nothing.
PLAIN_STD = 6.0
#: Perceptual-hash distance (of 64 bits) under which two plain pictures are the same.
PHASH_MAX = 6


@dataclass
class Features:
    """What one picture needs for matching: its size, keypoints and descriptors, and its
    hashes (of itself and of its mirror image)."""

    width: int
    height: int
    points: np.ndarray  # (k, 2) float32, at match scale
    descriptors: np.ndarray | None  # (k, 32) uint8
    mirror_points: np.ndarray
    mirror_descriptors: np.ndarray | None
    phash: int
    mirror_phash: int
    thumb: np.ndarray  # grayscale float32 at THUMB_SIDE, for the photometric check


@dataclass
class Overlap:
    """How much of each picture the other covers (0..1), and what said so."""

    share_a: float
    share_b: float
    inliers: int
    how: str  # "keypoints", "mirror", "phash" or "none"
    #: Correlation of the two pictures' pixels where they overlap, once aligned (-1..1).
    agreement: float = 0.0

    @property
    def share(self) -> float:
        return min(self.share_a, self.share_b)


def _orb(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    import cv2

    orb = cv2.ORB_create(nfeatures=N_FEATURES, fastThreshold=10)  # type: ignore[attr-defined]
    kps, desc = orb.detectAndCompute(gray, None)
    pts = np.array([k.pt for k in kps], dtype=np.float32).reshape(-1, 2)
    return pts, desc


def phash(gray: Image.Image) -> int:
    """64-bit perceptual hash (DCT of a 32x32 thumbnail, the low 8x8 against their median)."""
    import cv2

    small = np.asarray(gray.resize((32, 32), Image.Resampling.LANCZOS), dtype=np.float32)
    low = cv2.dct(small)[:8, :8].flatten()
    bits = low > np.median(low[1:])
    return int("".join("1" if b else "0" for b in bits), 2)


def features(im: Image.Image) -> Features:
    """Matching features of one picture (any mode; transparency is flattened on white)."""
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        im = flat
    gray = im.convert("L")
    w, h = gray.size
    scale = MATCH_SIDE / max(w, h)
    small = gray.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.BILINEAR,
                        reducing_gap=2.0)
    arr = np.asarray(small)
    mirror = np.ascontiguousarray(arr[:, ::-1])
    import cv2

    # Local contrast stretched first: a misty or dim picture still gets keypoints.
    clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8))
    pts, desc = _orb(clahe.apply(arr))
    mpts, mdesc = _orb(clahe.apply(mirror))
    return Features(width=w, height=h, points=pts, descriptors=desc, mirror_points=mpts, mirror_descriptors=mdesc,
                    phash=phash(small), mirror_phash=phash(ImageOps.mirror(small)),
                    thumb=np.asarray(small.resize(_thumb_size(w, h), Image.Resampling.BOX), dtype=np.float32))


def _thumb_size(w: int, h: int) -> tuple[int, int]:
    scale = THUMB_SIDE / max(w, h)
    return max(1, round(w * scale)), max(1, round(h * scale))


def _agreement(h: np.ndarray, a: Features, b: Features, mirrored: bool) -> float:
    """Pearson correlation of A's thumbnail and B's, warped onto A by ``h``, over the overlap.

    Edges rather than raw grey levels are compared, each locally normalised: a brightness
    change, a grey copy and a recompression keep them; two halves of a symmetric scene that
    the mirror happens to align differ in their details.
    """
    import cv2

    ta, tb = a.thumb, (b.thumb[:, ::-1] if mirrored else b.thumb)
    sa = ta.shape[1] / _size(a)[0]
    sb = tb.shape[1] / _size(b)[0]
    hs = np.diag([sa, sa, 1.0]) @ h @ np.diag([1 / sb, 1 / sb, 1.0])
    size = (ta.shape[1], ta.shape[0])
    warped = cv2.warpPerspective(np.ascontiguousarray(tb), hs, size, flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.ones_like(tb), hs, size, flags=cv2.INTER_NEAREST) > 0.5
    mask = cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    if mask.sum() < 64:
        return 0.0
    return _blockwise(ta, warped, mask)


#: The photometric check compares the pictures block by block (a grid of this many per side)
#: and takes the median, so a caption band or a logo over one part does not decide.
GRID = 4


def _blockwise(ta: np.ndarray, tb: np.ndarray, mask: np.ndarray) -> float:
    import cv2

    ta = cv2.GaussianBlur(ta, (3, 3), 0)
    tb = cv2.GaussianBlur(tb, (3, 3), 0)
    h, w = ta.shape
    found: list[float] = []
    for gy in range(GRID):
        for gx in range(GRID):
            ys = slice(gy * h // GRID, (gy + 1) * h // GRID)
            xs = slice(gx * w // GRID, (gx + 1) * w // GRID)
            m = mask[ys, xs]
            if m.mean() < 0.5:
                continue
            x, y = ta[ys, xs][m], tb[ys, xs][m]
            x, y = x - x.mean(), y - y.mean()
            # A flat block (sky, a wall) has no pattern to agree on: it neither helps nor hurts.
            if x.std() < 2.0 and y.std() < 2.0:
                continue
            den = float(np.sqrt((x * x).sum() * (y * y).sum()))
            found.append(float((x * y).sum() / den) if den > 0 else 0.0)
    return float(np.median(found)) if found else 1.0


def _edges(t: np.ndarray) -> np.ndarray:
    import cv2

    gx = cv2.Sobel(t, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(t, cv2.CV_32F, 0, 1, ksize=3)
    return np.sqrt(gx * gx + gy * gy)


def _size(f: Features) -> tuple[float, float]:
    scale = MATCH_SIDE / max(f.width, f.height)
    return f.width * scale, f.height * scale


def _clip(poly: list[tuple[float, float]], w: float, h: float) -> list[tuple[float, float]]:
    """Sutherland-Hodgman: ``poly`` clipped to the rectangle [0, w] x [0, h]."""
    # (OpenCV's intersectConvexConvex returns 0 for polygons whose edges coincide, which is
    # exactly the case of a copy mapped onto its original.)
    def cut(pts: list[tuple[float, float]], inside: Callable[[tuple[float, float]], float]) -> list[tuple[float, float]]:
        out: list[tuple[float, float]] = []
        for i, cur in enumerate(pts):
            prev = pts[i - 1]
            fc, fp = inside(cur), inside(prev)
            if (fc >= 0) != (fp >= 0):
                t = fp / (fp - fc)
                out.append((prev[0] + t * (cur[0] - prev[0]), prev[1] + t * (cur[1] - prev[1])))
            if fc >= 0:
                out.append(cur)
        return out

    for inside in (lambda p: p[0], lambda p: w - p[0], lambda p: p[1], lambda p: h - p[1]):
        poly = cut(poly, inside)
        if not poly:
            break
    return poly


def _area(poly: list[tuple[float, float]]) -> float:
    return abs(sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(poly, poly[1:] + poly[:1]))) / 2


def _covered(h: np.ndarray, src: tuple[float, float], dst: tuple[float, float]) -> float:
    """Share of the ``dst`` rectangle covered by the ``src`` rectangle mapped through ``h``."""
    sw, sh = src
    dw, dh = dst
    corners = np.array([[0, 0, 1], [sw, 0, 1], [sw, sh, 1], [0, sh, 1]], dtype=np.float64) @ h.T
    if (corners[:, 2] <= 0).any():
        return 0.0
    quad = [(float(x / z), float(y / z)) for x, y, z in corners]
    return _area(_clip(quad, dw, dh)) / (dw * dh) if dw * dh > 0 else 0.0


def _plausible(h: np.ndarray) -> bool:
    """A homography a copy can have: orientation kept, scale within 1:8, little perspective."""
    det = float(np.linalg.det(h[:2, :2]))
    return 1 / 64 < det < 64 and abs(h[2, 0]) < 2e-3 and abs(h[2, 1]) < 2e-3


def _match(pa: np.ndarray, da: np.ndarray | None, pb: np.ndarray, db: np.ndarray | None,
           a: Features, b: Features, mirrored: bool = False) -> Overlap | None:
    import cv2

    if da is None or db is None or len(da) < MIN_INLIERS or len(db) < MIN_INLIERS:
        return None
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    pairs = matcher.knnMatch(db, da, k=2)
    good = [m[0] for m in pairs if len(m) == 2 and m[0].distance < RATIO * m[1].distance]
    if len(good) < MIN_INLIERS:
        return None
    src = pb[[m.queryIdx for m in good]].reshape(-1, 1, 2)
    dst = pa[[m.trainIdx for m in good]].reshape(-1, 1, 2)
    h, mask = cv2.findHomography(src, dst, cv2.RANSAC, RANSAC_PX)
    if h is None or mask is None:
        return None
    inliers = int(mask.sum())
    if inliers < MIN_INLIERS or not _plausible(h):
        return None
    size_a, size_b = _size(a), _size(b)
    share_a = _covered(h, size_b, size_a)
    share_b = _covered(np.linalg.inv(h), size_a, size_b)
    return Overlap(share_a, share_b, inliers, "mirror" if mirrored else "keypoints",
                   _agreement(h, a, b, mirrored))


def _aspect_close(a: Features, b: Features, tol: float = 0.12) -> bool:
    ra, rb = a.width / a.height, b.width / b.height
    return abs(np.log(ra / rb)) < tol


def overlap(a: Features, b: Features) -> Overlap:
    """How much of ``a`` and of ``b`` the other covers; ``Overlap.share`` >= ~0.6 means a copy."""
    direct = _match(a.points, a.descriptors, b.points, b.descriptors, a, b)
    # b's mirror keypoints are in mirrored coordinates; the overlap of outlines is the same.
    # A symmetric scene also matches unmirrored (badly aligned): the better-agreeing one counts.
    mirrored = _match(a.points, a.descriptors, b.mirror_points, b.mirror_descriptors, a, b, mirrored=True)
    found = [o for o in (direct, mirrored) if o is not None]
    best = max(found, key=lambda o: (o.agreement * o.share, o.inliers)) if found else None
    if best is not None:
        return best
    # Too plain for keypoints: same outline and (nearly) the same hash, directly or mirrored.
    # A blank picture hashes like every other blank picture (and its left half like its right
    # half), so the hash speaks only for pictures with some tonal structure.
    if _aspect_close(a, b) and min(float(a.thumb.std()), float(b.thumb.std())) >= PLAIN_STD:
        dist = min(bin(a.phash ^ b.phash).count("1"), bin(a.phash ^ b.mirror_phash).count("1"))
        if dist <= PHASH_MAX:
            return Overlap(1.0, 1.0, 0, "phash")
    return Overlap(0.0, 0.0, 0, "none")
