"""The plugin is registered through real entry points."""

from __future__ import annotations

from importlib.metadata import entry_points

from nerfstudio.plugins.registry import discover_methods
from nerfstudio.plugins.registry_dataparser import discover_dataparsers


def test_entry_points_are_installed():
    methods = {ep.name: ep.value for ep in entry_points(group="nerfstudio.method_configs")}
    parsers = {ep.name: ep.value for ep in entry_points(group="nerfstudio.dataparser_configs")}
    assert methods["mi-nerf"] == "minerf_ns.config:mi_nerf_method"
    assert parsers["mi-nerf-data"] == "dataparsers.minerf_dataparser:mi_nerf_dataparser"
    scripts = {ep.name for ep in entry_points(group="console_scripts")}
    assert "minerf-synth" in scripts


def test_nerfstudio_discovers_methods_and_dataparser():
    methods, _ = discover_methods()
    assert {"mi-nerf", "mi-nerf-small"} <= set(methods)
    config = methods["mi-nerf"]
    assert config.pipeline.datamanager.dataparser.__class__.__name__ == "MiNerfDataParserConfig"
    assert config.pipeline.datamanager.train_num_rays_per_batch == 2048
    assert config.pipeline.model.num_coarse_samples == 64 and config.pipeline.model.num_importance_samples == 128
    assert config.optimizers["fields"]["optimizer"].lr == 5e-4
    assert config.optimizers["fields"]["scheduler"].lr_final == 5e-5
    assert "mi-nerf-data" in discover_dataparsers()[0]
