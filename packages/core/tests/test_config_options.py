"""`--cfg-options` parsing. Expected values follow MMEngine's DictAction and MMDetection's
documented examples (`workflow="[(train,1),(val,1)]"`, `mean="[127,127,127]"`), except that
quoted text stays a string."""

import argparse

import pytest

from detcore.config import ConfigError, parse_cfg_options


def test_the_brief_example_parses_every_type():
    options = parse_cfg_options(["a.b=1", "c=[1,2,(3,4)]", "d=true", "e=None", "f=abc",
                                 "g=1e-3", "h='1'"])
    assert options == {"a.b": 1, "c": [1, 2, (3, 4)], "d": True, "e": None, "f": "abc",
                       "g": 0.001, "h": "1"}
    assert type(options["a.b"]) is int and type(options["g"]) is float
    assert type(options["c"][2]) is tuple and type(options["h"]) is str


@pytest.mark.parametrize("text, expected", [
    ("50", 50), ("-1", -1), ("0.5", 0.5), ("1e4", 1e4), ("True", True), ("FALSE", False),
    ("None", None), ("none", "none"), ("mean", "mean"), ("data/coco/", "data/coco/"),
    ("http://host:8080/x", "http://host:8080/x"), ("", ""), (" padded ", "padded"),
    ('"a b"', "a b"), ("'None'", "None"), ("'it\\'s'", "it's"), ("'a,b'", "a,b"),
])
def test_scalars(text, expected):
    value = parse_cfg_options([f"k={text}"])["k"]
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize("text, expected", [
    ("[127,127,127]", [127, 127, 127]),
    ("[(train,1),(val,1)]", [("train", 1), ("val", 1)]),
    ("(640,640)", (640, 640)),
    ("(1)", (1,)),
    ("(1,)", (1,)),
    ("[]", []),
    ("()", ()),
    ("1,2,3", [1, 2, 3]),
    ("a,", ["a"]),
    ("[ 1 , [2, (x, 'y z')] ]", [1, [2, ("x", "y z")]]),
    ("{type:SGD,lr:0.01,betas:(0.9,0.999)}", {"type": "SGD", "lr": 0.01, "betas": (0.9, 0.999)}),
    ("{'a b':[1,{c:None}],0:x,}", {"a b": [1, {"c": None}], 0: "x"}),
    ("{}", {}),
    ("[{type:LoadImageFromFile},{type:Resize,scale:(1333,800)}]",
     [{"type": "LoadImageFromFile"}, {"type": "Resize", "scale": (1333, 800)}]),
])
def test_containers(text, expected):
    value = parse_cfg_options([f"k={text}"])["k"]
    assert value == expected
    assert repr(value) == repr(expected)  # tuples stay tuples, lists stay lists


def test_only_the_first_equals_sign_splits_and_later_items_win():
    assert parse_cfg_options(["expr=a=b", "x=1", "x=2"]) == {"expr": "a=b", "x": 2}


@pytest.mark.parametrize("item, message", [
    ("model.depth", "--cfg-options item 'model.depth' is not KEY=VALUE "
                    "(e.g. model.backbone.depth=50)"),
    ("=5", "--cfg-options item '=5' is not KEY=VALUE"),
    ("c=[1,2", "--cfg-options item 'c=[1,2': unclosed '['"),
    ("c=(1,[2)", "--cfg-options item 'c=(1,[2)': unexpected ')' at position 7"),
    ("c=[1]x", "--cfg-options item 'c=[1]x': expected ',' but found 'x' at position 5"),
    ("c=[1,,2]", "--cfg-options item 'c=[1,,2]': missing value at position 5"),
    ("c='abc", "--cfg-options item 'c='abc': unclosed quote ' at position 2"),
    ("c={a:1", "--cfg-options item 'c={a:1': unclosed '{'"),
    ("c={a}", "--cfg-options item 'c={a}': expected ':' but found '}' at position 4"),
    ("c={[1]:2}", "--cfg-options item 'c={[1]:2}': a dict key cannot be a list or dict at "
                  "position 3"),
])
def test_bad_items_name_the_item(item, message):
    with pytest.raises(ConfigError) as info:
        parse_cfg_options([item])
    assert str(info.value).startswith(message)


MMENGINE_ITEMS = ["a=1", "b=1.5", "c=true", "C=FALSE", "d=None", "e=abc", "f=[1,2,(3,4)]",
                  "g=[(train,1),(val,1)]", "h=1,2,3", "i=(1)", "j=[]", "k=()", "l=1e-3",
                  "m=data/coco/", "n=[[1,2],[3]]", "o=(a,[b,(c,)])", "p=-5", "q=a,",
                  "model.data_preprocessor.mean=[127,127,127]"]


@pytest.mark.peer
def test_unquoted_values_parse_as_mmengine_dict_action_parses_them():
    dict_action = pytest.importorskip("mmengine.config").DictAction
    parser = argparse.ArgumentParser()
    parser.add_argument("--cfg-options", nargs="+", action=dict_action)
    expected = parser.parse_args(["--cfg-options", *MMENGINE_ITEMS]).cfg_options
    ours = parse_cfg_options(MMENGINE_ITEMS)
    assert ours == expected and repr(ours) == repr(expected)
