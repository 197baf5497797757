"""Data preparation and analysis behind the scripts in tools/: one module per tool.

- panorama:   equirectangular panoramas -> perspective crops (tools/preprocessPanorama.py)
- splits:     train/val/test lists with the ignore-pixel filter (tools/generate_list.py)
- statistics: per-class pixel counts per split (tools/analysisData.py)
- results:    per-image accuracy ranking, easy/hard comparisons (tools/analysisResult.py)
- polygons:   polygon JSON (labelme, Cityscapes, daodixian jobs) -> label PNGs
              (tools/json2labelImg.py)
"""
