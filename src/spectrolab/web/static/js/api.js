// The editor's calls to the server's JSON API, with every failure turned into a sentence in plain words.

export class ApiError extends Error {}

let limitsMB = 16;
export function setUploadLimit(bytes) {
  limitsMB = bytes / 2 ** 20;
}

async function failure(response) {
  let detail = "";
  try {
    const body = await response.json();
    detail = typeof body.detail === "string" ? body.detail : "";
  } catch {
    detail = "";
  }
  if (response.status === 413) return new ApiError(detail || `That file is larger than the ${limitsMB} MB limit.`);
  if (response.status === 415) return new ApiError(detail ? capitalise(detail) + "." : "That file is not audio the server can read.");
  if (response.status >= 500) return new ApiError("The server failed on this request. Try again; if it keeps failing, restart spectrolab serve.");
  return new ApiError(detail ? capitalise(detail) + "." : `The server refused the request (HTTP ${response.status}).`);
}

function capitalise(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

async function send(url, options) {
  let response;
  try {
    response = await fetch(url, options);
  } catch {
    throw new ApiError("The server could not be reached. Is spectrolab serve still running?");
  }
  if (!response.ok) throw await failure(response);
  return response;
}

function form(bytes, fields = {}) {
  const body = new FormData();
  body.append("audio", new Blob([bytes]), "audio");
  for (const [name, value] of Object.entries(fields)) {
    if (value !== null && value !== undefined && value !== "") body.append(name, String(value));
  }
  return body;
}

export async function getConfig() {
  return (await send("/api/config")).json();
}

export async function getExample() {
  return { bytes: await (await send("/api/example")).arrayBuffer(), name: "example_note.wav" };
}

export async function getRandomExample() {
  const response = await send("/api/examples/random");
  const name = decodeURIComponent(response.headers.get("x-example-name") || "note");
  return { bytes: await response.arrayBuffer(), name };
}

export async function analyse(bytes) {
  return (await send("/api/analyse", { method: "POST", body: form(bytes) })).json();
}

export async function edit(bytes, fields) {
  return (await send("/api/edit", { method: "POST", body: form(bytes, fields) })).json();
}

export function base64ToBytes(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes.buffer;
}
