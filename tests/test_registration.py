"""The plugin is registered through real entry points: all four methods, the dataparser and the console scripts,
each method with its geometry and settings (each method's --help: tests/test_method_options.py)."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest

from nerfstudio.plugins.registry import discover_methods
from nerfstudio.plugins.registry_dataparser import discover_dataparsers

METHODS = ("mi-nerf", "mi-nerf-small", "mi-nerf-fast", "mi-nerf-fast-gpu", "mi-gaussians")
SCRIPTS = (
    "minerf-synth",
    "minerf-demo",
    "minerf-render",
    "minerf-eval",
    "minerf-personalize",
    "minerf-track",
    "minerf-audio",
    "minerf-verify",
)


def test_entry_points_are_installed():
    methods = {ep.name: ep.value for ep in entry_points(group="nerfstudio.method_configs")}
    parsers = {ep.name: ep.value for ep in entry_points(group="nerfstudio.dataparser_configs")}
    assert {m: methods[m] for m in METHODS} == {
        "mi-nerf": "minerf_ns.config:mi_nerf_method",
        "mi-nerf-small": "minerf_ns.config:mi_nerf_small_method",
        "mi-nerf-fast": "minerf_ns.config:mi_nerf_fast_method",
        "mi-nerf-fast-gpu": "minerf_ns.config:mi_nerf_fast_gpu_method",
        "mi-gaussians": "minerf_ns.config:mi_gaussians_method",
    }
    assert parsers["mi-nerf-data"] == "dataparsers.minerf_dataparser:mi_nerf_dataparser"
    scripts = {ep.name for ep in entry_points(group="console_scripts")}
    assert set(SCRIPTS) <= scripts


def test_nerfstudio_discovers_every_method_with_its_geometry_and_settings():
    methods, _ = discover_methods()
    assert set(METHODS) <= set(methods)
    assert "mi-nerf-data" in discover_dataparsers()[0]
    expected = {  # rays, geometry, samples, fields lr (-> lr / 10), optimizer groups
        "mi-nerf": (2048, "MlpGeometryConfig", (64, 128), 5e-4, {"fields", "codes"}),
        "mi-nerf-small": (512, "MlpGeometryConfig", (32, 32), 2e-3, {"fields", "codes"}),
        "mi-nerf-fast": (1024, "TriplaneGeometryConfig", (24, 32), 2e-3, {"fields", "codes", "grids"}),
        "mi-nerf-fast-gpu": (8192, "TriplaneGeometryConfig", (32, 48), 2e-3, {"fields", "codes", "grids"}),
    }
    for name, (rays, geometry, samples, lr, groups) in expected.items():
        config = methods[name]
        assert config.method_name == name
        assert config.pipeline.datamanager.dataparser.__class__.__name__ == "MiNerfDataParserConfig"
        assert config.pipeline.datamanager.train_num_rays_per_batch == rays
        assert config.pipeline.datamanager.pixel_sampler.num_rays_per_batch == rays
        model = config.pipeline.model
        assert model.__class__.__name__ == "MiNerfModelConfig" and model.geometry.__class__.__name__ == geometry
        got = (model.geometry.num_coarse_samples, model.geometry.num_importance_samples) if "Mlp" in geometry else (
            model.geometry.num_proposal_samples, model.geometry.num_samples)  # fmt: skip
        assert got == samples
        assert set(config.optimizers) == groups
        assert config.optimizers["fields"]["optimizer"].lr == lr
        assert config.optimizers["fields"]["scheduler"].lr_final == pytest.approx(lr / 10)
        assert model.interaction == "multiplicative" and model.interaction_rank == 8 and model.latent_dim == 32
    paper = methods["mi-nerf"].pipeline.model.geometry
    assert (paper.num_layers, paper.hidden_dim, paper.skip_layer, paper.color_layers, paper.color_dim) == (
        8, 256, 4, 4, 128)  # fmt: skip
    assert (paper.position_frequencies, paper.direction_frequencies) == (10, 4)
    assert methods["mi-nerf-fast"].optimizers["grids"]["optimizer"].lr == 2e-2
    assert methods["mi-nerf-fast-gpu"].pipeline.model.geometry.plane_resolutions == (64, 128, 256)
    gaussians = methods["mi-gaussians"]
    assert gaussians.pipeline.datamanager.__class__.__name__ == "MiImageDataManagerConfig"
    assert gaussians.pipeline.model.geometry.__class__.__name__ == "GaussianGeometryConfig"
    splats = gaussians.pipeline.model.geometry
    assert (splats.num_mesh_gaussians, splats.num_free_gaussians) == (16384, 4096)
    assert set(gaussians.optimizers) == {"fields", "codes", "means", "scales", "quats", "opacities", "colours",
                                         "gaussian_features"}  # fmt: skip
    assert gaussians.optimizers["means"]["optimizer"].lr == 2e-4 and gaussians.max_num_iterations == 2000
