// Which returned files the adapters show a model as images: the formats both OpenAI and Anthropic accept.

import type { OutputFile } from '../types.js';

/** The image types the model APIs take inline (Anthropic's list; OpenAI takes these too). */
export type ImageMediaType = 'image/png' | 'image/jpeg' | 'image/gif' | 'image/webp';

const IMAGE_TYPES: readonly string[] = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'];

/** An image attachment, its bytes in base64. */
export interface ImageAttachment {
  path: string;
  mediaType: ImageMediaType;
  base64: string;
}

// The attachments a model can be shown as images, base64-encoded once.
export function imageAttachments(files: readonly OutputFile[]): ImageAttachment[] {
  return files
    .filter((file) => IMAGE_TYPES.includes(file.mimeType))
    .map((file) => ({ path: file.path, mediaType: file.mimeType as ImageMediaType, base64: file.content.toString('base64') }));
}
