// The two Node globals index.d.ts mentions, so the check needs no @types/node.
declare class Buffer extends Uint8Array {
  toString(encoding?: string): string;
}
declare const process: { env: Record<string, string | undefined> };
