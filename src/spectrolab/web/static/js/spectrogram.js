// A display spectrogram computed in the browser: STFT power on the HTK mel axis the code grid's rows tile.

export const mel = (hz) => 1127 * Math.log1p(hz / 700);
export const hz = (m) => 700 * Math.expm1(m / 1127);

function fft(re, im) {
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      [re[i], re[j]] = [re[j], re[i]];
      [im[i], im[j]] = [im[j], im[i]];
    }
  }
  for (let len = 2; len <= n; len <<= 1) {
    const angle = (-2 * Math.PI) / len;
    const wr = Math.cos(angle);
    const wi = Math.sin(angle);
    const half = len >> 1;
    for (let i = 0; i < n; i += len) {
      let cr = 1;
      let ci = 0;
      for (let k = 0; k < half; k++) {
        const a = i + k;
        const b = a + half;
        const xr = re[b] * cr - im[b] * ci;
        const xi = re[b] * ci + im[b] * cr;
        re[b] = re[a] - xr;
        im[b] = im[a] - xi;
        re[a] += xr;
        im[a] += xi;
        const t = cr * wr - ci * wi;
        ci = cr * wi + ci * wr;
        cr = t;
      }
    }
  }
}

export function mono(buffer) {
  const out = new Float32Array(buffer.length);
  for (let c = 0; c < buffer.numberOfChannels; c++) {
    const data = buffer.getChannelData(c);
    for (let i = 0; i < data.length; i++) out[i] += data[i] / buffer.numberOfChannels;
  }
  return out;
}

// dB image (frames x rows, row 0 the lowest band) of a mono signal, from 0 Hz to fmax on the mel axis.
export function melSpectrogram(samples, sampleRate, fmax, rows = 256) {
  let nfft = 256;
  while (nfft < (1024 * sampleRate) / 16000 && nfft < 8192) nfft <<= 1;
  const hop = nfft >> 2;
  const frames = Math.max(1, Math.floor(samples.length / hop) + 1);
  const window = new Float64Array(nfft).map((_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / nfft));
  const binOfRow = new Float64Array(rows);
  for (let y = 0; y < rows; y++) binOfRow[y] = (hz((mel(fmax) * (y + 0.5)) / rows) * nfft) / sampleRate;
  const db = new Float32Array(frames * rows);
  const re = new Float64Array(nfft);
  const im = new Float64Array(nfft);
  const power = new Float64Array(nfft / 2 + 1);
  for (let t = 0; t < frames; t++) {
    const start = t * hop - nfft / 2;
    for (let i = 0; i < nfft; i++) {
      const j = start + i;
      re[i] = j >= 0 && j < samples.length ? samples[j] * window[i] : 0;
      im[i] = 0;
    }
    fft(re, im);
    for (let k = 0; k <= nfft / 2; k++) power[k] = re[k] * re[k] + im[k] * im[k];
    for (let y = 0; y < rows; y++) {
      const b = Math.min(binOfRow[y], nfft / 2 - 1);
      const k = Math.floor(b);
      const p = power[k] + (power[k + 1] - power[k]) * (b - k);
      db[t * rows + y] = 10 * Math.log10(p + 1e-12);
    }
  }
  // A full-scale sinusoid peaks at (nfft / 4)^2 in power under the Hann window: every image shares this 0 dB.
  return { frames, rows, db, secondsPerFrame: hop / sampleRate, fullScaleDb: 20 * Math.log10(nfft / 4) };
}

const STOPS = [
  [0, 0, 4], [40, 11, 84], [101, 21, 110], [159, 42, 99], [212, 72, 66], [245, 125, 21], [250, 193, 39], [252, 255, 164],
];
const LUT = Array.from({ length: 256 }, (_, i) => {
  const x = (i / 255) * (STOPS.length - 1);
  const k = Math.min(Math.floor(x), STOPS.length - 2);
  const f = x - k;
  return STOPS[k].map((v, c) => Math.round(v + (STOPS[k + 1][c] - v) * f));
});

// An offscreen canvas (frames wide, rows high, high frequencies at the top): 0 to -90 dB of full scale, the
// same scale for every version, so that A and B compare truthfully.
export function spectrogramImage(spec, rangeDb = 90) {
  const top = spec.fullScaleDb;
  const canvas = document.createElement("canvas");
  canvas.width = spec.frames;
  canvas.height = spec.rows;
  const context = canvas.getContext("2d");
  const image = context.createImageData(spec.frames, spec.rows);
  for (let t = 0; t < spec.frames; t++) {
    for (let y = 0; y < spec.rows; y++) {
      const level = Math.max(0, Math.min(1, (spec.db[t * spec.rows + y] - top + rangeDb) / rangeDb));
      const color = LUT[Math.round(level * 255)];
      const o = ((spec.rows - 1 - y) * spec.frames + t) * 4;
      image.data[o] = color[0];
      image.data[o + 1] = color[1];
      image.data[o + 2] = color[2];
      image.data[o + 3] = 255;
    }
  }
  context.putImageData(image, 0, 0);
  return canvas;
}
