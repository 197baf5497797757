from utils.output_names import output_names


def test_stems_when_unique_as_the_original():
    paths = ["leftImg8bit/val/a/x_1.png", "leftImg8bit/val/b/x_2.png"]
    assert output_names(paths, flat=True) == ["x_1", "x_2"]
    assert output_names(paths) == ["leftImg8bit/val/a/x_1", "leftImg8bit/val/b/x_2"]


def test_folders_then_suffixes_tell_apart_only_the_images_that_share_a_name():
    paths = ["s1/x.png", "s2/x.png", "s2/x.jpg", "y.png", "s1/x.png"]
    assert output_names(paths, flat=True) == ["s1/x", "s2/x_png", "s2/x_jpg", "y", "s1/x"]


def test_names_stay_inside_the_output_folder():
    names = output_names(["/data/a.png", "../up/b.png", "./c/../d.png"], flat=False)
    assert names == ["data/a", "up/b", "c/d"]


def test_the_same_name_for_different_images_is_numbered_in_order():
    images = ["/d1/x.jpg", "/d2/x.jpg", "/d3/x.jpg", "x_jpg_2.png"]
    names = output_names(images, ["x.jpg", "x.jpg", "x.jpg", "x_jpg_2.png"])
    assert names == ["x_jpg", "x_jpg_3", "x_jpg_4", "x_jpg_2"]
    assert len(set(names)) == len(images)
