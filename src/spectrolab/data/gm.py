"""General-MIDI programs mapped to NSynth's 11 instrument families and 3 sources.

Programs are numbered 0-127 (GM program number minus one). A program is mapped only where its family is
clear; the rest are skipped when rendering an NSynth-format dataset. Source follows NSynth's definitions:
*acoustic* for recorded acoustic instruments, *electronic* for electric/electromechanical instruments
(electric pianos and guitars, electric basses, electric organs), *synthetic* for synthesisers.

=======  ====================================================  ==========  ==========
program  GM name                                               family      source
=======  ====================================================  ==========  ==========
0-1      Acoustic Grand, Bright Acoustic Piano                 keyboard    acoustic
2        Electric Grand Piano                                  keyboard    electronic
3        Honky-tonk Piano                                      keyboard    acoustic
4-5      Electric Piano 1, 2                                   keyboard    electronic
6        Harpsichord                                           keyboard    acoustic
7        Clavinet                                              keyboard    electronic
8-9      Celesta, Glockenspiel                                 mallet      acoustic
11-14    Vibraphone, Marimba, Xylophone, Tubular Bells         mallet      acoustic
16-18    Drawbar, Percussive, Rock Organ                       organ       electronic
19-20    Church Organ, Reed Organ                              organ       acoustic
22       Harmonica                                             reed        acoustic
24-25    Nylon, Steel Acoustic Guitar                          guitar      acoustic
26-31    Jazz, Clean, Muted, Overdriven, Distortion Guitar,    guitar      electronic
         Guitar Harmonics
32       Acoustic Bass                                         bass        acoustic
33-37    Finger, Pick, Fretless, Slap 1, Slap 2 Bass           bass        electronic
38-39    Synth Bass 1, 2                                       bass        synthetic
40-46    Violin, Viola, Cello, Contrabass, Tremolo Strings,    string      acoustic
         Pizzicato Strings, Orchestral Harp
48-49    String Ensemble 1, 2                                  string      acoustic
50-51    Synth Strings 1, 2                                    string      synthetic
52-53    Choir Aahs, Voice Oohs                                vocal       acoustic
54       Synth Voice                                           vocal       synthetic
56-61    Trumpet, Trombone, Tuba, Muted Trumpet, French Horn,  brass       acoustic
         Brass Section
62-63    Synth Brass 1, 2                                      brass       synthetic
64-71    Soprano, Alto, Tenor, Baritone Sax, Oboe,             reed        acoustic
         English Horn, Bassoon, Clarinet
72-79    Piccolo, Flute, Recorder, Pan Flute, Blown Bottle,    flute       acoustic
         Shakuhachi, Whistle, Ocarina
80-87    Lead 1-8 (square, sawtooth, calliope, chiff,          synth_lead  synthetic
         charang, voice, fifths, bass + lead)
105      Banjo                                                 guitar      acoustic
109      Bagpipe                                               reed        acoustic
110      Fiddle                                                string      acoustic
111      Shanai                                                reed        acoustic
=======  ====================================================  ==========  ==========

Skipped (no clear NSynth family): 10 Music Box, 15 Dulcimer, 21 and 23 accordions, 47 Timpani,
55 Orchestra Hit, 88-95 synth pads, 96-103 synth effects, 104 Sitar, 106 Shamisen, 107 Koto, 108 Kalimba,
112-119 percussion, 120-127 sound effects. That leaves 86 programs: bass 8, brass 8, flute 8, guitar 9,
keyboard 8, mallet 6, organ 5, reed 11, string 12, synth_lead 8, vocal 3.
"""

from __future__ import annotations

from dataclasses import dataclass

from spectrolab.data.nsynth_format import NSYNTH_FAMILIES, NSYNTH_SOURCES
from spectrolab.errors import ConfigError


@dataclass(frozen=True)
class GMInstrument:
    """A General-MIDI program with its NSynth family and source."""

    program: int
    name: str
    family: str
    source: str

    def __post_init__(self) -> None:
        if self.family not in NSYNTH_FAMILIES or self.source not in NSYNTH_SOURCES:
            raise ConfigError(f"program {self.program}: unknown family/source {self.family}/{self.source}")


def _group(family: str, source: str, first: int, names: str) -> dict[int, GMInstrument]:
    return {first + i: GMInstrument(first + i, name.strip(), family, source) for i, name in enumerate(names.split(","))}


GM_TO_NSYNTH: dict[int, GMInstrument] = {
    **_group("keyboard", "acoustic", 0, "Acoustic Grand Piano, Bright Acoustic Piano"),
    **_group("keyboard", "electronic", 2, "Electric Grand Piano"),
    **_group("keyboard", "acoustic", 3, "Honky-tonk Piano"),
    **_group("keyboard", "electronic", 4, "Electric Piano 1, Electric Piano 2"),
    **_group("keyboard", "acoustic", 6, "Harpsichord"),
    **_group("keyboard", "electronic", 7, "Clavinet"),
    **_group("mallet", "acoustic", 8, "Celesta, Glockenspiel"),
    **_group("mallet", "acoustic", 11, "Vibraphone, Marimba, Xylophone, Tubular Bells"),
    **_group("organ", "electronic", 16, "Drawbar Organ, Percussive Organ, Rock Organ"),
    **_group("organ", "acoustic", 19, "Church Organ, Reed Organ"),
    **_group("reed", "acoustic", 22, "Harmonica"),
    **_group("guitar", "acoustic", 24, "Acoustic Guitar (nylon), Acoustic Guitar (steel)"),
    **_group(
        "guitar",
        "electronic",
        26,
        "Electric Guitar (jazz), Electric Guitar (clean), Electric Guitar (muted), Overdriven Guitar,"
        "Distortion Guitar, Guitar Harmonics",
    ),
    **_group("bass", "acoustic", 32, "Acoustic Bass"),
    **_group(
        "bass",
        "electronic",
        33,
        "Electric Bass (finger), Electric Bass (pick), Fretless Bass, Slap Bass 1, Slap Bass 2",
    ),
    **_group("bass", "synthetic", 38, "Synth Bass 1, Synth Bass 2"),
    **_group(
        "string",
        "acoustic",
        40,
        "Violin, Viola, Cello, Contrabass, Tremolo Strings, Pizzicato Strings, Orchestral Harp",
    ),
    **_group("string", "acoustic", 48, "String Ensemble 1, String Ensemble 2"),
    **_group("string", "synthetic", 50, "Synth Strings 1, Synth Strings 2"),
    **_group("vocal", "acoustic", 52, "Choir Aahs, Voice Oohs"),
    **_group("vocal", "synthetic", 54, "Synth Voice"),
    **_group("brass", "acoustic", 56, "Trumpet, Trombone, Tuba, Muted Trumpet, French Horn, Brass Section"),
    **_group("brass", "synthetic", 62, "Synth Brass 1, Synth Brass 2"),
    **_group(
        "reed",
        "acoustic",
        64,
        "Soprano Sax, Alto Sax, Tenor Sax, Baritone Sax, Oboe, English Horn, Bassoon, Clarinet",
    ),
    **_group(
        "flute", "acoustic", 72, "Piccolo, Flute, Recorder, Pan Flute, Blown Bottle, Shakuhachi, Whistle, Ocarina"
    ),
    **_group(
        "synth_lead",
        "synthetic",
        80,
        "Lead 1 (square), Lead 2 (sawtooth), Lead 3 (calliope), Lead 4 (chiff), Lead 5 (charang),"
        "Lead 6 (voice), Lead 7 (fifths), Lead 8 (bass + lead)",
    ),
    **_group("guitar", "acoustic", 105, "Banjo"),
    **_group("reed", "acoustic", 109, "Bagpipe"),
    **_group("string", "acoustic", 110, "Fiddle"),
    **_group("reed", "acoustic", 111, "Shanai"),
}
"""Mapped GM programs (see the module table); programs not in it are skipped."""
