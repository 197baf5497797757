"""Charts: the confusion matrix and IoU bars carry the class names; sizes stay bounded."""

from pathlib import Path

import numpy as np

from utils import charts
from utils.charts import confusion_figure, figure_to_rgb, iou_figure, short_count


def test_confusion_figure_names_both_axes_and_writes_values():
    confusion = np.array([[8, 2], [0, 5]])
    figure = confusion_figure(confusion, ["sky", "road"])
    heat_maps = [a for a in figure.axes if a.get_xlabel() == "prediction"]
    assert len(heat_maps) == 2  # normalised and counts, each with its colour bar
    assert len(figure.axes) == 4
    for axes in heat_maps:
        assert [t.get_text() for t in axes.get_xticklabels()] == ["sky", "road"]
        assert [t.get_text() for t in axes.get_yticklabels()] == ["sky", "road"]
    normalised, counts = ([t.get_text() for t in a.texts] for a in heat_maps)
    assert normalised == ["80", "20", "0", "100"]  # % of each ground-truth row
    assert counts == ["8", "2", "0", "5"]


def test_many_classes_leave_out_the_values_and_stay_bounded():
    n = 31
    figure = confusion_figure(np.eye(n) * 10, [f"c{k}" for k in range(n)])
    assert not any(axes.texts for axes in figure.axes)
    assert figure.get_figwidth() * 100 > 2000  # drawn larger than allowed below
    assert figure_to_rgb(figure, max_width=2000).shape[1] <= 2000


def test_iou_figure_marks_absent_classes():
    figure = iou_figure([0.5, 0.0, 0.9], ["a", "b", "c"], absent=["b"])
    labels = [t.get_text() for t in figure.axes[0].texts]
    assert labels == ["0.500", "0.000  (absent)", "0.900"]
    assert figure.axes[0].get_legend().get_texts()[0].get_text() == "mIoU 0.4667"


def test_counts_fit_a_cell():
    values = [0, 638, 1770, 37800, 557000, 1_234_567, 35_000_000, 9_960]
    assert [short_count(v) for v in values] == [
        "0", "638", "1.8k", "38k", "557k", "1.2M", "35M", "10k"
    ]  # fmt: skip


def _draw_names(names):
    return figure_to_rgb(iou_figure(np.linspace(0.2, 0.9, len(names)), names))


def test_missing_glyphs_are_one_line_naming_them(monkeypatch, caplog, recwarn):
    monkeypatch.setattr(charts, "_reported_glyphs", set())
    _draw_names(["货架", "地面"])
    _draw_names(["货架"])
    lines = [r.getMessage() for r in caplog.records if "no installed font" in r.getMessage()]
    assert len(lines) == 1  # once per process, not once per glyph and chart
    assert "地 架 货 面" in lines[0] and "fonts-noto-cjk" in lines[0]
    assert not [w for w in recwarn if "missing from font" in str(w.message)]


def test_an_installed_cjk_font_draws_what_the_default_font_lacks(monkeypatch, caplog):
    import matplotlib
    from matplotlib import font_manager

    # A bundled font under a CJK font's name: it has the mathematical letters DejaVu lacks.
    stix = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "STIXGeneral.ttf"
    entry = font_manager.FontEntry(fname=str(stix), name=charts.CJK_FONTS[0])
    monkeypatch.setattr(
        font_manager.fontManager, "ttflist", [*font_manager.fontManager.ttflist, entry]
    )
    monkeypatch.setitem(
        matplotlib.rcParams, "font.family", list(matplotlib.rcParams["font.family"])
    )
    charts._add_cjk_fonts.cache_clear()
    monkeypatch.setattr(charts, "_reported_glyphs", set())
    font_manager.fontManager._findfont_cached.cache_clear()
    _draw_names(["\U0001d401\U0001d402"])
    assert matplotlib.rcParams["font.family"][-1] == charts.CJK_FONTS[0]
    assert not [r for r in caplog.records if "no installed font" in r.getMessage()]
    monkeypatch.undo()
    charts._add_cjk_fonts.cache_clear()
    font_manager.fontManager._findfont_cached.cache_clear()
    _draw_names(["\U0001d401\U0001d402"])  # without it, the letters are missing
    assert [r for r in caplog.records if "no installed font" in r.getMessage()]
