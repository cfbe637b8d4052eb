"""The demo's comparison and its plain statement about reference support (pure logic)."""

from judgelm_ray.demo.run import format_comparison, reference_finding


def _row(judge: str, reference: str, agreement: float) -> dict:
    return {
        "judge": judge, "reference": reference, "n": 300, "parse_rate": 1.0, "agreement": agreement,
        "consistency": 0.98, "prefer_first": 0.02, "prefer_second": 0.0, "agreement_surest_half": 0.9,
    }


def test_reference_support_is_claimed_only_when_measured():
    shown = [_row("swap-aug", "with reference", 0.80), _row("swap-aug", "without reference", 0.70)]
    assert reference_finding(shown).startswith("- Reference support: the reference raised agreement by 0.100")
    flat = [_row("swap-aug", "with reference", 0.757), _row("swap-aug", "without reference", 0.753)]
    assert "NOT shown" in reference_finding(flat) and "+0.004" in reference_finding(flat)
    assert "not measured" in reference_finding(flat[1:])


def test_comparison_table_has_one_line_per_variant_without_trailing_spaces():
    table = format_comparison([_row("swap-aug", "with reference", 0.757), _row("no-swap", "with reference", 0.627)])
    lines = table.splitlines()
    assert lines[0].split()[:2] == ["judge", "reference"] and len(lines) == 3
    assert lines[1].split() == ["swap-aug", "with", "reference", "300", "1.000", "0.757", "0.900", "0.980", "0.020",
                                "0.000"]
    assert all(line == line.rstrip() for line in lines)
