"""The one mixed-precision rule: a requested type as asked, else the device's, float32 where a
speed-only caller would get emulated bfloat16."""

import pytest
import torch

from utils.errors import ConfigError
from utils.precision import autocast_dtype, cpu_bf16_instructions, native_bf16


def test_the_device_type_and_its_native_support_decide(monkeypatch):
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    monkeypatch.setattr("utils.precision.native_bf16", lambda device: False)
    assert autocast_dtype(cuda) == torch.float16
    assert autocast_dtype(cpu) == torch.bfloat16  # asked for reduced precision: emulated or not
    assert autocast_dtype(cpu, native_only=True) is None
    assert autocast_dtype(cpu, "bf16", native_only=True) == torch.bfloat16
    assert autocast_dtype(cuda, "bf16") == torch.bfloat16
    monkeypatch.setattr("utils.precision.native_bf16", lambda device: True)
    assert autocast_dtype(cpu, native_only=True) == torch.bfloat16
    with pytest.raises(ConfigError, match="TRAIN.AMP_DTYPE is 'half'; expected '' .*bf16 or fp16"):
        autocast_dtype(cpu, "half")


@pytest.mark.parametrize("amx, avx512_bf16", [(False, False), (True, False), (False, True)])
def test_native_bf16_on_a_cpu_is_amx_or_avx512_bf16(monkeypatch, amx, avx512_bf16):
    monkeypatch.setattr("torch.cpu._is_amx_tile_supported", lambda: amx)
    monkeypatch.setattr("torch.cpu._is_avx512_bf16_supported", lambda: avx512_bf16)
    expected = ["AMX"] * amx + ["AVX512-BF16"] * avx512_bf16
    assert cpu_bf16_instructions() == expected
    assert native_bf16("cpu") is bool(expected)
