/**
 * The Open Inference Protocol's binary tensor data extension (Triton's and KServe's
 * `binary_tensor_data`): a request or reply body is a JSON header followed by raw tensor bytes,
 * little-endian, row-major, no padding.
 *
 * - The HTTP header `Inference-Header-Content-Length: N` says that the JSON is the first N bytes;
 *   without it the whole body is JSON.
 * - An input sent as bytes has `parameters.binary_data_size` (its byte count) instead of
 *   `data`; the inputs' bytes follow the JSON in the order of `inputs`, and together they are
 *   exactly the rest of the body.
 * - A reply output sent as bytes has `parameters.binary_data_size` and no `data`, asked for per
 *   output by `parameters.binary_data: true` or for every output by the request's
 *   `parameters.binary_data_output: true`.
 *
 * Every fault is an {@linkcode HttpError} 400 with a one-line message saying what was expected.
 *
 * @module
 */
import { HttpError } from "./request.ts";

/** The HTTP header giving the JSON header's length in bytes. */
export const HEADER_LENGTH = "Inference-Header-Content-Length";

/** Bytes per element of the datatypes this server reads and writes as binary tensors. */
export const ELEMENT_BYTES = { FP32: 4, UINT8: 1 } as const;

/** A datatype of {@linkcode ELEMENT_BYTES}. */
export type BinaryDatatype = keyof typeof ELEMENT_BYTES;

const bad = (message: string) => new HttpError(400, "bad_request", message);

/**
 * Splits a request body into its JSON header and the binary part that follows it, by the
 * {@linkcode HEADER_LENGTH} header's value (`undefined` when the request had none: all JSON).
 *
 * @example
 * ```ts
 * const header = new TextEncoder().encode('{"inputs":[]}'); // 13 bytes of JSON, then 4 binary
 * const request = new Request("http://localhost/v2/models/symmetric/infer", {
 *   method: "POST",
 *   headers: { [HEADER_LENGTH]: String(header.length) },
 *   body: new Uint8Array([...header, 0, 0, 128, 63]),
 * });
 * const body = new Uint8Array(await request.arrayBuffer());
 * const { json, binary } = splitBody(body, request.headers.get(HEADER_LENGTH) ?? undefined); // 13 + 4 bytes
 * ```
 */
export function splitBody(
  body: Uint8Array,
  headerLength: string | undefined,
): { json: Uint8Array; binary?: Uint8Array } {
  if (headerLength === undefined) return { json: body };
  const n = /^\s*\d+\s*$/.test(headerLength) ? Number(headerLength) : NaN;
  if (!Number.isSafeInteger(n)) {
    throw bad(
      `${HEADER_LENGTH}: expected the JSON header's length as a whole number of bytes, got "${headerLength}"`,
    );
  }
  if (n > body.length) {
    throw bad(`${HEADER_LENGTH}: ${n} bytes is past the end of the ${body.length}-byte body`);
  }
  return { json: body.subarray(0, n), binary: body.subarray(n) };
}

/**
 * Cuts the binary part into one slice per input, in order: `sizes[i]` is input i's
 * `parameters.binary_data_size` (`undefined` for an input sent as JSON `data`). The sizes must be
 * whole numbers that add up to exactly the binary part's length.
 *
 * @example
 * ```ts
 * const binary = new Uint8Array(3072);
 * const [img] = binaryInputs([3072], binary); // 3072 bytes: one 16×16×3 FP32 image
 * ```
 */
export function binaryInputs(
  sizes: (unknown | undefined)[],
  binary: Uint8Array | undefined,
): (Uint8Array | undefined)[] {
  const declared = sizes.map((size, i) => {
    if (size === undefined) return undefined;
    if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) {
      throw bad(
        `inputs[${i}].parameters.binary_data_size: expected a whole number of bytes, got ${
          JSON.stringify(size)
        }`,
      );
    }
    return size;
  });
  const total = declared.reduce<number>((s, v) => s + (v ?? 0), 0);
  const first = declared.findIndex((v) => v !== undefined);
  if (binary === undefined) {
    if (first < 0) return declared.map(() => undefined);
    throw bad(
      `inputs[${first}].parameters.binary_data_size is given but the request has no ${HEADER_LENGTH} header: expected the JSON header's length in bytes there`,
    );
  }
  if (total !== binary.length) {
    throw bad(
      `binary tensor data: the inputs' binary_data_size add up to ${total} bytes, but ${binary.length} bytes follow the JSON header`,
    );
  }
  let at = 0;
  return declared.map((size) => {
    if (size === undefined) return undefined;
    const slice = binary.subarray(at, at + size);
    at += size;
    return slice;
  });
}

/**
 * The elements of a binary tensor of `count` elements (little-endian); 400 when the byte count
 * is not `count × element size`. `where` names the input in the message.
 *
 * @example
 * ```ts
 * const bytes = fp32Bytes(new Float32Array(16 * 16 * 3).fill(0.5));
 * const x = readTensor(bytes, "FP32", 16 * 16 * 3, "inputs[0]"); // Float32Array(768) of 0.5
 * ```
 */
export function readTensor(
  bytes: Uint8Array,
  datatype: BinaryDatatype,
  count: number,
  where: string,
): Float32Array | Uint8Array {
  const size = ELEMENT_BYTES[datatype];
  if (bytes.length !== count * size) {
    throw bad(
      `${where}.parameters.binary_data_size: expected ${count} elements × ${size} bytes = ${
        count * size
      } bytes for its shape and ${datatype}, got ${bytes.length} bytes`,
    );
  }
  if (datatype === "UINT8") return bytes;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
  return out;
}

/**
 * FP32 values as little-endian bytes.
 *
 * @example
 * ```ts
 * fp32Bytes([1]); // Uint8Array [0, 0, 128, 63]
 * ```
 */
export function fp32Bytes(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(4 * i, values[i], true);
  return out;
}

/**
 * A reply in the extension's framing: the JSON `header`, then `tensors` one after the other.
 * Returns the body and the JSON's length for the {@linkcode HEADER_LENGTH} header.
 *
 * @example
 * ```ts
 * const probabilities = [0.7, 0.3];
 * const outputs = [{ name: "probabilities", datatype: "FP32", shape: [1, 2], parameters: { binary_data_size: 8 } }];
 * const { body, headerLength } = binaryReply({ outputs }, [fp32Bytes(probabilities)]); // JSON, then 8 bytes
 * ```
 */
export function binaryReply(
  header: unknown,
  tensors: Uint8Array[],
): { body: Uint8Array; headerLength: number } {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const body = new Uint8Array(json.length + tensors.reduce((s, t) => s + t.length, 0));
  body.set(json);
  let at = json.length;
  for (const t of tensors) {
    body.set(t, at);
    at += t.length;
  }
  return { body, headerLength: json.length };
}
