from __future__ import annotations

from pathlib import Path

from lootwatch.models.cpu import native_bf16


def _cpuinfo(tmp_path: Path, flags: str) -> Path:
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nmodel name\t: test\nflags\t\t: {flags}\n\nprocessor\t: 1\nflags\t\t: {flags}\n")
    return path


def test_native_bf16_needs_avx512_bf16_or_amx(tmp_path: Path) -> None:
    assert not native_bf16(_cpuinfo(tmp_path, "fpu sse2 avx avx2 fma"))
    assert native_bf16(_cpuinfo(tmp_path, "fpu avx2 avx512f avx512_bf16"))
    assert native_bf16(_cpuinfo(tmp_path, "fpu avx2 avx512f amx_tile amx_bf16"))


def test_unknown_cpu_means_no_bf16(tmp_path: Path) -> None:
    assert not native_bf16(tmp_path / "missing")
    (tmp_path / "empty").write_text("")
    assert not native_bf16(tmp_path / "empty")
