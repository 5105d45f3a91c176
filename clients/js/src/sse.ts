/**
 * The `data` of each event of a `text/event-stream` body (the HTML Server-Sent Events
 * format): `data:` lines joined by newlines, an event ending at a blank line; comments
 * (`: keep-alive`) and the other fields are skipped.
 */
export async function* sseData(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  const reader = body.getReader();
  let buffer = "";
  let data: string[] = [];
  try {
    for (;;) {
      const { done, value } = await reader.read();
      buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
      const lines = buffer.split("\n");
      // The last piece may be a line cut in two: keep it for the next chunk.
      buffer = done ? "" : (lines.pop() ?? "");
      for (const raw of lines) {
        const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
        if (line === "") {
          if (data.length > 0) yield data.join("\n");
          data = [];
        } else if (line.startsWith("data:")) {
          data.push(line.slice(line.startsWith("data: ") ? 6 : 5));
        }
      }
      if (done) return;
    }
  } finally {
    // Leaving the loop early (break, an error) closes the connection.
    await reader.cancel().catch(() => undefined);
  }
}
