"""Polygon annotations (JSON) -> label PNGs, for three formats.

- labelme: `{"imageHeight", "imageWidth", "shapes": [{"label", "points", "shape_type"}]}`;
  labels are class names of colorMap.txt, written as their raw ids (or colours).
- Cityscapes: `{"imgHeight", "imgWidth", "objects": [{"label", "polygon"}]}`; labels map to
  the Cityscapes labelIds (or colours) of the official label table, as cityscapesScripts does.
- daodixian jobs (SSJ fork): `{"items": [{"uris": [".../<file>"], "results": {"polys":
  [{"poly": [[x, y], ...]}]}}]}` with x, y normalised to the image size (read from the image);
  one class (wire: id 1 on background 0), every 8th annotated item to the validation split.

Shapes are filled in file order (later ones on top) with PIL, boundary pixels included.
"""

import shutil
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from utils.errors import DataError
from utils.image_io import write_image, write_png
from utils.logger import progress_bar
from utils.text import load_json

# Cityscapes labels (cityscapesScripts helpers/labels.py): name, labelId, colour.
CITYSCAPES_LABELS = (
    ("unlabeled", 0, (0, 0, 0)),
    ("ego vehicle", 1, (0, 0, 0)),
    ("rectification border", 2, (0, 0, 0)),
    ("out of roi", 3, (0, 0, 0)),
    ("static", 4, (0, 0, 0)),
    ("dynamic", 5, (111, 74, 0)),
    ("ground", 6, (81, 0, 81)),
    ("road", 7, (128, 64, 128)),
    ("sidewalk", 8, (244, 35, 232)),
    ("parking", 9, (250, 170, 160)),
    ("rail track", 10, (230, 150, 140)),
    ("building", 11, (70, 70, 70)),
    ("wall", 12, (102, 102, 156)),
    ("fence", 13, (190, 153, 153)),
    ("guard rail", 14, (180, 165, 180)),
    ("bridge", 15, (150, 100, 100)),
    ("tunnel", 16, (150, 120, 90)),
    ("pole", 17, (153, 153, 153)),
    ("polegroup", 18, (153, 153, 153)),
    ("traffic light", 19, (250, 170, 30)),
    ("traffic sign", 20, (220, 220, 0)),
    ("vegetation", 21, (107, 142, 35)),
    ("terrain", 22, (152, 251, 152)),
    ("sky", 23, (70, 130, 180)),
    ("person", 24, (220, 20, 60)),
    ("rider", 25, (255, 0, 0)),
    ("car", 26, (0, 0, 142)),
    ("truck", 27, (0, 0, 70)),
    ("bus", 28, (0, 60, 100)),
    ("caravan", 29, (0, 0, 90)),
    ("trailer", 30, (0, 0, 110)),
    ("train", 31, (0, 80, 100)),
    ("motorcycle", 32, (0, 0, 230)),
    ("bicycle", 33, (119, 11, 32)),
    ("license plate", -1, (0, 0, 142)),
)
CITYSCAPES = {name: (label_id, color) for name, label_id, color in CITYSCAPES_LABELS}

DAODIXIAN_ID = 1
DAODIXIAN_COLOR = (220, 20, 60)
ENCODINGS = ("ids", "color")
FORMATS = ("labelme", "cityscapes", "daodixian")


def json_files(inputs):
    """The JSON files of `inputs`: files as given, folders searched recursively for *.json."""
    files = []
    for item in map(Path, inputs):
        if item.is_dir():
            found = sorted(item.rglob("*.json"))
            if not found:
                raise DataError(f"no .json files in {item}")
            files += found
        elif item.is_file():
            files.append(item)
        else:
            raise DataError(f"input {item} does not exist")
    return files


def detect_format(data, source):
    """'labelme', 'cityscapes' or 'daodixian', from the keys of the JSON object."""
    if isinstance(data, dict):
        if "shapes" in data:
            return "labelme"
        if "objects" in data and "imgHeight" in data:
            return "cityscapes"
        if "items" in data:
            return "daodixian"
    raise DataError(
        f"{source}: not a known polygon format (labelme 'shapes', Cityscapes 'objects' + "
        "'imgHeight', daodixian 'items'); pass --format"
    )


def rasterize(width, height, shapes, background, encoding):
    """Fill `shapes` [(kind, points, value)] ('polygon' or 'ellipse') into a new label image."""
    mode = "L" if encoding == "ids" else "RGB"
    image = Image.new(mode, (width, height), background)
    draw = ImageDraw.Draw(image)
    for kind, points, value in shapes:
        if kind == "ellipse":
            draw.ellipse(points, fill=value)
        else:
            draw.polygon(points, fill=value)
    return np.array(image)


def _size(data, height_key, width_key, source):
    try:
        return int(data[width_key]), int(data[height_key])
    except (KeyError, TypeError, ValueError):
        raise DataError(f"{source}: needs integer '{height_key}' and '{width_key}'") from None


def _points(raw, source, where):
    try:
        points = [(float(x), float(y)) for x, y in raw]
    except (TypeError, ValueError):
        raise DataError(f"{source}: {where}: points must be [[x, y], ...], got {raw!r}") from None
    if not points:
        raise DataError(f"{source}: {where}: no points")
    return points


AREA_KINDS = ("polygon", "ellipse")  # what rasterize fills; "line" and "point" cover no area


def labelme_shapes(data, source="labelme JSON"):
    """[(kind, points, label)] of a labelme annotation, in file order: polygons and rectangles
    (as their 4 corners) are 'polygon', circles 'ellipse' (points: the bounding box), lines and
    line strips 'line', points 'point'; other shape types keep their name."""
    shapes = []
    for index, shape in enumerate(data["shapes"]):
        name = shape.get("label")
        where = f"shape {index} ({name!r})"
        kind = shape.get("shape_type") or "polygon"
        points = _points(shape.get("points"), source, where)
        if kind not in ("rectangle", "circle"):
            shapes.append(({"linestrip": "line", "points": "point"}.get(kind, kind), points, name))
            continue
        if len(points) != 2:
            raise DataError(f"{source}: {where}: a {kind} needs 2 points, got {len(points)}")
        (x0, y0), (x1, y1) = points
        if kind == "rectangle":
            shapes.append(("polygon", [(x0, y0), (x1, y0), (x1, y1), (x0, y1)], name))
        else:
            r = float(np.hypot(x1 - x0, y1 - y0))
            shapes.append(("ellipse", [x0 - r, y0 - r, x0 + r, y0 + r], name))
    return shapes


def labelme_label(data, table, encoding="ids", background=255, source="labelme JSON"):
    """(label image, number of skipped non-area shapes) of a labelme annotation.

    Shape labels are class names of `table`; polygons, rectangles and circles are filled,
    lines and points are skipped. Unannotated pixels get `background` (a raw id; as a colour,
    that class's colour, or black).
    """
    width, height = _size(data, "imageHeight", "imageWidth", source)
    lookup = {
        name: int(raw_id) if encoding == "ids" else tuple(int(c) for c in color)
        for name, raw_id, color in zip(table.names, table.ids, table.colors, strict=True)
    }
    shapes, skipped = [], 0
    for index, (kind, points, name) in enumerate(labelme_shapes(data, source)):
        if kind not in AREA_KINDS:
            skipped += 1
            continue
        if name not in lookup:
            raise DataError(
                f"{source}: shape {index} ({name!r}): label {name!r} is not a class of "
                f"{table.source} ({', '.join(table.names)})"
            )
        shapes.append((kind, points, lookup[name]))
    if encoding == "color":
        # the colour of the class whose raw id it is; black (palette[255]) where none has it
        background = tuple(int(c) for c in table.palette()[table.id_lut()[background]])
    return rasterize(width, height, shapes, background, encoding), skipped


def cityscapes_shapes(data, source="Cityscapes JSON"):
    """[(points, label name, labelId, colour)] of a Cityscapes `*_polygons.json`, in file order.

    Deleted objects and labels without an id (license plate) are left out; '<name>group'
    falls back to '<name>' as in cityscapesScripts.
    """
    shapes = []
    for index, obj in enumerate(data["objects"]):
        if obj.get("deleted"):
            continue
        name = obj.get("label")
        if name not in CITYSCAPES and isinstance(name, str) and name.endswith("group"):
            name = name[: -len("group")]
        if name not in CITYSCAPES:
            raise DataError(
                f"{source}: object {index}: label {obj.get('label')!r} is not a Cityscapes label"
            )
        label_id, color = CITYSCAPES[name]
        if label_id < 0:
            continue
        points = _points(obj.get("polygon"), source, f"object {index} ({name!r})")
        shapes.append((points, name, label_id, color))
    return shapes


def cityscapes_label(data, encoding="ids", source="Cityscapes JSON"):
    """Label image of a Cityscapes `*_polygons.json`: labelIds on 'unlabeled' (0), or colours
    (see `cityscapes_shapes`)."""
    width, height = _size(data, "imgHeight", "imgWidth", source)
    shapes = [
        ("polygon", points, label_id if encoding == "ids" else color)
        for points, _, label_id, color in cityscapes_shapes(data, source)
    ]
    background = CITYSCAPES["unlabeled"][0 if encoding == "ids" else 1]
    return rasterize(width, height, shapes, background, encoding)


def cityscapes_output_name(json_path, encoding):
    """`<x>_gtFine_polygons.json` -> `<x>_gtFine_labelIds.png` (ids) or `..._color.png`."""
    stem = Path(json_path).stem
    stem = stem[: -len("_polygons")] if stem.endswith("_polygons") else stem
    return f"{stem}_{'labelIds' if encoding == 'ids' else 'color'}.png"


def write_label_image(path, label):
    """Write an ids (H, W) or colour (H, W, 3) label as PNG."""
    if label.ndim == 2:
        write_png(path, label)
    else:
        write_image(path, label)


def convert_file(json_path, fmt, encoding="ids", out_dir=None, table=None, background=255):
    """Convert one labelme or Cityscapes JSON; returns (output path, skipped shapes)."""
    json_path = Path(json_path)
    data = load_json(json_path)
    out_dir = Path(out_dir) if out_dir else json_path.parent
    if fmt == "labelme":
        label, skipped = labelme_label(data, table, encoding, background, str(json_path))
        out = out_dir / f"{json_path.stem}.png"
    elif fmt == "cityscapes":
        label, skipped = cityscapes_label(data, encoding, str(json_path)), 0
        out = out_dir / cityscapes_output_name(json_path, encoding)
    else:
        raise ValueError(f"convert_file handles labelme and cityscapes, not {fmt!r}")
    write_label_image(out, label)
    return out, skipped


def daodixian_items(data, source):
    """(file name, polygons) of every annotated item of a daodixian job, in file order."""
    items = data.get("items")
    if not isinstance(items, list):
        raise DataError(f"{source}: 'items' must be a list")
    annotated = []
    for index, item in enumerate(items):
        results = item.get("results")
        if not results:
            continue
        try:
            file_name = Path(item["uris"][0]).name
            polys = [p["poly"] for p in results["polys"]]
        except (KeyError, IndexError, TypeError):
            raise DataError(
                f"{source}: item {index}: expected 'uris': [path, ...] and 'results': "
                "{'polys': [{'poly': [[x, y], ...]}, ...]}"
            ) from None
        annotated.append((file_name, polys))
    return annotated


def daodixian_polygons(polys, width, height, source="daodixian job"):
    """Normalised polygons -> pixel points: clamped to [0, 1], scaled by width, height."""
    scaled = []
    for index, poly in enumerate(polys):
        points = _points(poly, source, f"polygon {index}")
        scaled.append(
            [(min(max(x, 0.0), 1.0) * width, min(max(y, 0.0), 1.0) * height) for x, y in points]
        )
    return scaled


def daodixian_label(polys, width, height, encoding="ids", source="daodixian job"):
    """Label image of normalised polygons (see `daodixian_polygons`)."""
    value = DAODIXIAN_ID if encoding == "ids" else DAODIXIAN_COLOR
    shapes = [
        ("polygon", points, value) for points in daodixian_polygons(polys, width, height, source)
    ]
    return rasterize(width, height, shapes, 0 if encoding == "ids" else (0, 0, 0), encoding)


def convert_daodixian(
    json_paths,
    image_root,
    save_dir,
    list_dir,
    tag="1209",
    val_every=8,
    encoding="ids",
    copy_images=False,
    progress=True,
):
    """Convert daodixian jobs into `<save_dir>/{train,val}_<tag>/annotations/<name>.png`.

    Every `val_every`-th annotated item (counted over all jobs in order; 0: none) goes to val.
    Colour labels go to `annotations/annotations_color/` as in the original. Writes the lists
    `<list_dir>/{train,val}_<tag>.lst` (`image  label` lines) and, with `copy_images`, the
    images to `<split>_<tag>/images/`. Returns {split: number of images}.
    """
    image_root, save_dir = Path(image_root), Path(save_dir)
    annotated = []
    for path in json_paths:
        annotated += daodixian_items(load_json(path), str(path))
    lines = {"train": [], "val": []}
    for count, (file_name, polys) in enumerate(progress_bar(annotated, enabled=progress), start=1):
        split = "val" if val_every and count % val_every == 0 else "train"
        folder = f"{split}_{tag}"
        image_path = image_root / file_name
        if not image_path.is_file():
            raise DataError(f"image {image_path} of a daodixian item does not exist")
        with Image.open(image_path) as image:
            width, height = image.size
        label = daodixian_label(polys, width, height, encoding, file_name)
        annotations = Path(folder) / "annotations"
        if encoding == "color":
            annotations = annotations / "annotations_color"
        label_rel = annotations / f"{Path(file_name).stem}.png"
        write_label_image(save_dir / label_rel, label)
        image_rel = Path(folder) / "images" / file_name
        if copy_images:
            (save_dir / image_rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(image_path, save_dir / image_rel)
        lines[split].append(f"{image_rel.as_posix()}  {label_rel.as_posix()}\n")
    list_dir = Path(list_dir)
    list_dir.mkdir(parents=True, exist_ok=True)
    for split, split_lines in lines.items():
        (list_dir / f"{split}_{tag}.lst").write_text("".join(split_lines), encoding="utf-8")
    return {split: len(split_lines) for split, split_lines in lines.items()}
