"""App settings, the app id and lifecycle defaults."""

import pytest

import openfal
from openfal.sdk import SETTING_DEFAULTS, AppDefinitionError, UnknownSettingWarning


def test_defaults() -> None:
    class Plain(openfal.App):
        pass

    assert Plain.settings() == {
        "app_name": None,
        "keep_alive": 300,
        "min_concurrency": 0,
        "max_concurrency": 2,
        "concurrency_buffer": 0,
        "scaling_delay": 0,
        "max_multiplexing": 1,
        "request_timeout": None,
        "startup_timeout": 600,
        "machine_type": "CPU",
        "num_gpus": 0,
        "requirements": [],
        "version": None,
    }
    assert Plain.settings().keys() == SETTING_DEFAULTS.keys()


def test_class_keywords_and_attributes() -> None:
    class Keywords(openfal.App, name="me/keywords", keep_alive=60, max_multiplexing=4):
        pass

    class Attributes(openfal.App):
        app_name = "attributes"
        machine_type = "GPU-H100"
        num_gpus = 1
        requirements = ["torch"]
        model_path = "/weights"  # the app's own attribute, not a setting

    assert Keywords.settings()["keep_alive"] == 60
    assert Keywords.max_multiplexing == 4
    assert Keywords.app_id() == "me/keywords"
    settings = Attributes.settings()
    assert (settings["machine_type"], settings["num_gpus"]) == ("GPU-H100", 1)
    assert settings["requirements"] == ["torch"]
    assert "model_path" not in settings
    assert Attributes.app_id() == "local/attributes"


@pytest.mark.parametrize(
    ("class_name", "expected"),
    [("Echo", "echo"), ("MyHTTPApp", "my-http-app"), ("SDXLTurbo", "sdxl-turbo")],
)
def test_app_id_from_class_name(class_name: str, expected: str) -> None:
    cls = type(class_name, (openfal.App,), {})
    assert cls.app_id() == f"local/{expected}"


@pytest.mark.parametrize("name", ["a/b/c", "owner/", "/alias", "has space", ""])
def test_malformed_app_name_is_refused(name: str) -> None:
    with pytest.raises(AppDefinitionError, match="app_name"):

        class Bad(openfal.App, name=name):
            pass


def test_unknown_settings_are_kept_and_warned_about() -> None:
    with pytest.warns(UnknownSettingWarning, match="'app_auth', 'gpu_memory'"):

        class Ported(openfal.App, gpu_memory=80):
            app_auth = "private"

    assert Ported.settings()["gpu_memory"] == 80
    assert Ported.settings()["app_auth"] == "private"


def test_subclasses_inherit_settings_without_warning_again() -> None:
    with pytest.warns(UnknownSettingWarning):

        class Base(openfal.App, keep_alive=5, custom=1):
            pass

    class Child(Base, max_concurrency=7):
        pass

    assert Child.settings()["keep_alive"] == 5
    assert Child.settings()["custom"] == 1
    assert Child.settings()["max_concurrency"] == 7
    assert Base.settings()["max_concurrency"] == 2


def test_settings_returns_a_copy() -> None:
    class App(openfal.App):
        requirements = ["numpy"]

    App.settings()["requirements"].append("scipy")
    assert App.settings()["requirements"] == ["numpy"]


def test_default_hooks() -> None:
    app = openfal.App()
    assert app.setup() is None
    assert app.teardown() is None
    assert app.health() == {}
    assert app.provide_hints() == []
    assert app.current_request is None
