// Draws the spectrogram, the code grid over it, the selection, the cells the last edit changed and the axes;
// maps pointer positions to grid cells. Zoom widens the stage inside a horizontal scroller.

import { mel } from "./spectrogram.js";

const PLOT_H = 312;
const AXIS_H = 24;
const MAX_CANVAS_W = 16000;

function niceStep(span, pixels, minGap) {
  for (const step of [0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 30, 60]) if ((step / span) * pixels >= minGap) return step;
  return 60;
}

export class View {
  constructor({ scroller, stage, canvas, freqAxis, playhead }) {
    Object.assign(this, { scroller, stage, canvas, freqAxis, playhead });
    this.zoom = 1;
    this.data = null;
    this.draws = 0;
  }

  get width() {
    return this.canvas.width / (window.devicePixelRatio || 1);
  }

  // data: { image, grid, changed, duration, selection, label }
  set(data) {
    this.data = data;
    this.draw();
  }

  setZoom(zoom) {
    const maxZoom = Math.max(1, MAX_CANVAS_W / Math.max(1, this.scroller.clientWidth));
    const centre = (this.scroller.scrollLeft + this.scroller.clientWidth / 2) / Math.max(1, this.stage.clientWidth);
    this.zoom = Math.min(Math.max(1, zoom), maxZoom, 64);
    this.draw();
    this.scroller.scrollLeft = centre * this.stage.clientWidth - this.scroller.clientWidth / 2;
  }

  extent() {
    const { grid, duration } = this.data;
    return Math.max(duration, grid.cols * grid.seconds_per_cell);
  }

  fmax() {
    const edges = this.data.grid.row_edges_hz;
    return edges[edges.length - 1];
  }

  x(seconds) {
    return (seconds / this.extent()) * this.width;
  }

  y(frequency) {
    return PLOT_H * (1 - mel(frequency) / mel(this.fmax()));
  }

  cellAt(clientX, clientY) {
    const rect = this.canvas.getBoundingClientRect();
    const { grid } = this.data;
    const seconds = ((clientX - rect.left) / rect.width) * this.extent();
    const col = Math.floor(seconds / grid.seconds_per_cell);
    const y = clientY - rect.top;
    let row = 0;
    while (row < grid.rows - 1 && this.y(grid.row_edges_hz[row + 1]) > y) row++;
    return { row, col: Math.max(0, Math.min(grid.cols - 1, col)) };
  }

  draw() {
    const dpr = window.devicePixelRatio || 1;
    const cssW = Math.round(this.scroller.clientWidth * this.zoom);
    this.stage.style.width = `${cssW}px`;
    this.canvas.style.width = `${cssW}px`;
    this.canvas.width = Math.round(cssW * dpr);
    this.canvas.height = Math.round((PLOT_H + AXIS_H) * dpr);
    const c = this.canvas.getContext("2d");
    c.setTransform(dpr, 0, 0, dpr, 0, 0);
    c.fillStyle = "#000";
    c.fillRect(0, 0, cssW, PLOT_H + AXIS_H);
    this.drawFreqAxis();
    if (!this.data) return;
    const { image, grid, changed, duration, selection } = this.data;
    c.imageSmoothingEnabled = true;
    c.drawImage(image, 0, 0, image.width, image.height, 0, 0, this.x(image.width * this.data.secondsPerFrame), PLOT_H);
    c.fillStyle = "rgba(0,0,0,0.55)";
    c.fillRect(this.x(duration), 0, cssW - this.x(duration), PLOT_H);
    this.drawGrid(c, grid);
    if (changed) this.drawCells(c, grid, changed, "rgba(255,204,77,0.9)", "rgba(255,204,77,0.12)");
    if (selection) this.drawSelection(c, grid, selection);
    this.drawTimeAxis(c, cssW);
    this.draws += 1;
    this.canvas.dataset.draws = String(this.draws);
  }

  cellRect(grid, row, col) {
    const x0 = this.x(col * grid.seconds_per_cell);
    const x1 = this.x((col + 1) * grid.seconds_per_cell);
    const y0 = this.y(grid.row_edges_hz[row + 1]);
    const y1 = this.y(grid.row_edges_hz[row]);
    return [x0, y0, x1 - x0, y1 - y0];
  }

  drawGrid(c, grid) {
    c.strokeStyle = "rgba(255,255,255,0.28)";
    c.lineWidth = 1;
    c.beginPath();
    for (let col = 1; col < grid.cols; col++) {
      const x = Math.round(this.x(col * grid.seconds_per_cell)) + 0.5;
      c.moveTo(x, 0);
      c.lineTo(x, PLOT_H);
    }
    for (let row = 1; row < grid.rows; row++) {
      const y = Math.round(this.y(grid.row_edges_hz[row])) + 0.5;
      c.moveTo(0, y);
      c.lineTo(this.x(grid.cols * grid.seconds_per_cell), y);
    }
    c.stroke();
  }

  drawCells(c, grid, mask, stroke, fill) {
    c.strokeStyle = stroke;
    c.fillStyle = fill;
    c.lineWidth = 1;
    for (let row = 0; row < grid.rows; row++) {
      for (let col = 0; col < grid.cols; col++) {
        if (!mask[row][col]) continue;
        const [x, y, w, h] = this.cellRect(grid, row, col);
        c.fillRect(x, y, w, h);
        c.strokeRect(x + 1.5, y + 1.5, w - 3, h - 3);
      }
    }
  }

  drawSelection(c, grid, s) {
    const x0 = this.x(s.col_start * grid.seconds_per_cell);
    const x1 = this.x(s.col_stop * grid.seconds_per_cell);
    const y0 = this.y(grid.row_edges_hz[s.row_stop]);
    const y1 = this.y(grid.row_edges_hz[s.row_start]);
    c.fillStyle = s.dragging ? "rgba(53,208,224,0.28)" : "rgba(53,208,224,0.2)";
    c.fillRect(x0, y0, x1 - x0, y1 - y0);
    c.strokeStyle = "#35d0e0";
    c.lineWidth = 2;
    c.setLineDash(s.dragging ? [6, 4] : []);
    c.strokeRect(x0 + 1, y0 + 1, x1 - x0 - 2, y1 - y0 - 2);
    c.setLineDash([]);
  }

  drawTimeAxis(c, cssW) {
    const extent = this.extent();
    const step = niceStep(extent, cssW, 70);
    c.fillStyle = "#9a9ca5";
    c.strokeStyle = "#9a9ca5";
    c.font = "11px system-ui, sans-serif";
    c.textAlign = "center";
    c.textBaseline = "top";
    for (let t = 0; t <= extent + 1e-9; t += step) {
      const x = this.x(t);
      c.fillRect(x, PLOT_H, 1, 5);
      const label = t.toFixed(step < 0.1 ? 2 : step < 1 ? 1 : 0);
      c.fillText(`${label} s`, Math.min(Math.max(x, 14), cssW - 14), PLOT_H + 7);
    }
  }

  drawFreqAxis() {
    const dpr = window.devicePixelRatio || 1;
    const a = this.freqAxis;
    a.width = Math.round(60 * dpr);
    a.height = Math.round((PLOT_H + AXIS_H) * dpr);
    const c = a.getContext("2d");
    c.setTransform(dpr, 0, 0, dpr, 0, 0);
    c.fillStyle = "#15161a";
    c.fillRect(0, 0, 60, PLOT_H + AXIS_H);
    if (!this.data) return;
    c.fillStyle = "#9a9ca5";
    c.font = "11px system-ui, sans-serif";
    c.textAlign = "right";
    c.textBaseline = "middle";
    let previous = Infinity;
    for (const f of [100, 200, 500, 1000, 2000, 4000, 8000, 16000]) {
      if (f > this.fmax()) break;
      const y = this.y(f);
      if (previous - y < 14) continue;
      previous = y;
      c.fillRect(54, y, 6, 1);
      c.fillText(f >= 1000 ? `${f / 1000}k` : `${f}`, 50, Math.max(8, y));
    }
    c.textAlign = "left";
    c.fillText("Hz", 4, PLOT_H + 12);
  }

  showPlayhead(seconds) {
    if (seconds === null || !this.data) {
      this.playhead.hidden = true;
      return;
    }
    this.playhead.hidden = false;
    this.playhead.style.left = `${this.x(seconds)}px`;
  }
}
