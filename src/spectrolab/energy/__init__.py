"""Energy and carbon accounting: meters behind one interface, carbon intensity, repeat-until-measurable.

Every figure says how it was obtained: "measured (RAPL package+DRAM)", "measured (NVML GPU 0)", or
"estimated (CPU-seconds x W/core + RAM W x wall)" with its assumptions and a range.
"""

from spectrolab.energy.base import CombinedMeter, Meter
from spectrolab.energy.carbon import CarbonIntensity, Emissions, carbon_intensity, emissions, grams_co2e
from spectrolab.energy.estimate import EstimateMeter, PowerRange, estimate_joules
from spectrolab.energy.meters import auto_meter, create_meter, list_meters
from spectrolab.energy.nvml import NvmlMeter
from spectrolab.energy.rapl import RaplMeter
from spectrolab.energy.repeat import Measured, measure_call
from spectrolab.energy.result import EnergyResult, format_joules, in_parallel, in_sequence

__all__ = [
    "CarbonIntensity",
    "CombinedMeter",
    "Emissions",
    "EnergyResult",
    "EstimateMeter",
    "Measured",
    "Meter",
    "NvmlMeter",
    "PowerRange",
    "RaplMeter",
    "auto_meter",
    "carbon_intensity",
    "create_meter",
    "emissions",
    "estimate_joules",
    "format_joules",
    "grams_co2e",
    "in_parallel",
    "in_sequence",
    "list_meters",
    "measure_call",
]
