// The history, kept in this browser: audio bytes in IndexedDB by content hash, and one record of the session
// (the versions' metadata and which one is current). localStorage would be too small for audio.

const DB_NAME = "spectrolab-editor";
const AUDIO = "audio";
const STATE = "state";

let dbPromise = null;

function db() {
  if (!dbPromise) {
    dbPromise = new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = () => {
        request.result.createObjectStore(AUDIO);
        request.result.createObjectStore(STATE);
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }
  return dbPromise;
}

async function run(store, mode, action) {
  const database = await db();
  return new Promise((resolve, reject) => {
    const tx = database.transaction(store, mode);
    const request = action(tx.objectStore(store));
    tx.oncomplete = () => resolve(request ? request.result : undefined);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

export const putAudio = (key, bytes) => run(AUDIO, "readwrite", (s) => s.put(bytes, key));
export const getAudio = (key) => run(AUDIO, "readonly", (s) => s.get(key));
export const deleteAudio = (key) => run(AUDIO, "readwrite", (s) => s.delete(key));
export const putSession = (session) => run(STATE, "readwrite", (s) => s.put(session, "session"));
export const getSession = () => run(STATE, "readonly", (s) => s.get("session"));
export const clearAudio = () => run(AUDIO, "readwrite", (s) => s.clear());
