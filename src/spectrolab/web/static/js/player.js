// Playback with Web Audio: the whole sound, a span, or a loop. A (the original) and B (the current version)
// play together in sync and the A/B switch crossfades their gains, B scaled to A's RMS level.

const FADE_S = 0.01;
const MAX_MATCH_DB = 12;

export function rms(buffer) {
  let sum = 0;
  let count = 0;
  for (let c = 0; c < buffer.numberOfChannels; c++) {
    const data = buffer.getChannelData(c);
    for (let i = 0; i < data.length; i++) sum += data[i] * data[i];
    count += data.length;
  }
  return Math.sqrt(sum / Math.max(1, count));
}

export class Player {
  constructor() {
    this.context = new AudioContext();
    this.voices = null;
    this.which = "B";
    this.match = 1;
    this.onend = () => {};
  }

  decode(bytes) {
    return this.context.decodeAudioData(bytes.slice(0));
  }

  // Gain that brings B to A's RMS level, within +-12 dB.
  static levelMatch(a, b) {
    const ra = rms(a);
    const rb = rms(b);
    if (ra === 0 || rb === 0) return 1;
    const limit = 10 ** (MAX_MATCH_DB / 20);
    return Math.min(limit, Math.max(1 / limit, ra / rb));
  }

  get playing() {
    return this.voices !== null;
  }

  gains() {
    return this.which === "A" ? [1, 0] : [0, this.match];
  }

  async play({ a, b, start = 0, stop = null, loop = false }) {
    this.stop();
    if (this.context.state !== "running") await this.context.resume();
    this.match = Player.levelMatch(a, b);
    const end = Math.min(stop ?? b.duration, b.duration);
    const now = this.context.currentTime + 0.02;
    const [ga, gb] = this.gains();
    const voices = [a, b].map((buffer, i) => {
      const source = this.context.createBufferSource();
      source.buffer = buffer;
      const gain = this.context.createGain();
      gain.gain.value = i === 0 ? ga : gb;
      source.connect(gain).connect(this.context.destination);
      if (loop) {
        source.loop = true;
        source.loopStart = start;
        source.loopEnd = end;
        source.start(now, start);
      } else {
        source.start(now, start, Math.max(0, end - start));
      }
      return { source, gain };
    });
    this.voices = { list: voices, startedAt: now, start, end, loop };
    voices[1].source.onended = () => {
      if (this.voices && this.voices.list === voices) {
        this.voices = null;
        this.onend();
      }
    };
  }

  setWhich(which) {
    this.which = which;
    if (!this.voices) return;
    const t = this.context.currentTime;
    this.gains().forEach((value, i) => this.voices.list[i].gain.gain.setTargetAtTime(value, t, FADE_S));
  }

  position() {
    if (!this.voices) return null;
    const { startedAt, start, end, loop } = this.voices;
    const elapsed = Math.max(0, this.context.currentTime - startedAt);
    if (!loop) return Math.min(end, start + elapsed);
    return start + (elapsed % Math.max(1e-6, end - start));
  }

  stop() {
    if (!this.voices) return;
    const voices = this.voices.list;
    this.voices = null;
    for (const { source } of voices) {
      source.onended = null;
      try {
        source.stop();
      } catch {
        // already stopped
      }
    }
    this.onend();
  }
}
