import { SigilError } from '../errors/index.js';
import type { ResourceKind } from './policy/types.js';

export const CONTAINER_LISTS = ['initContainers', 'containers', 'ephemeralContainers'] as const;
export type ContainerList = (typeof CONTAINER_LISTS)[number];

/** At most this many container images are examined in one object; more is refused. */
export const MAX_IMAGES_PER_OBJECT = 256;
const MAX_IMAGE_LENGTH = 1024;

/** Where the pod spec sits in each kind (JSON pointer segments). */
export const POD_SPEC_PATH: Record<ResourceKind, readonly string[]> = {
  Pod: ['spec'],
  Deployment: ['spec', 'template', 'spec'],
  StatefulSet: ['spec', 'template', 'spec'],
  DaemonSet: ['spec', 'template', 'spec'],
  ReplicaSet: ['spec', 'template', 'spec'],
  ReplicationController: ['spec', 'template', 'spec'],
  Job: ['spec', 'template', 'spec'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
};

export function isResourceKind(kind: string): kind is ResourceKind {
  return Object.prototype.hasOwnProperty.call(POD_SPEC_PATH, kind);
}

export interface ContainerImage {
  /** RFC 6901 pointer to the `image` field, e.g. `/spec/template/spec/initContainers/0/image`. */
  pointer: string;
  /** Where it sits: a container list, or `volumes` for an image volume's `image.reference`. */
  list: ContainerList | 'volumes';
  index: number;
  /** The container's (or the volume's) name. */
  containerName: string;
  /** The image string exactly as written in the object. */
  image: string;
}

function child(v: unknown, key: string): unknown {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)[key]
    : undefined;
}

function checkedImage(v: unknown, where: string): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_IMAGE_LENGTH) {
    throw new SigilError(
      'INVALID_INPUT',
      `${where} must be a non-empty string of at most ${MAX_IMAGE_LENGTH} characters`,
    );
  }
  return v;
}

/**
 * Image volumes (`volumes[].image.reference`, Kubernetes ImageVolume): the kubelet pulls the OCI
 * artifact and mounts it, so it is verified and pinned like a container image.
 */
function volumeImages(spec: object, base: string): ContainerImage[] {
  const volumes = child(spec, 'volumes');
  if (volumes === undefined || volumes === null) return [];
  if (!Array.isArray(volumes)) throw new SigilError('INVALID_INPUT', `${base}/volumes is not a list`);
  const out: ContainerImage[] = [];
  volumes.forEach((v, index) => {
    const image = child(v, 'image');
    if (image === undefined || image === null) return;
    const pointer = `${base}/volumes/${index}/image/reference`;
    const name = child(v, 'name');
    out.push({
      pointer,
      list: 'volumes',
      index,
      containerName: typeof name === 'string' ? name : '',
      image: checkedImage(child(image, 'reference'), pointer),
    });
  });
  return out;
}

/**
 * Every image of a Pod or pod-template object, in the order init → regular → ephemeral
 * containers → image volumes, with the JSON pointer a patch must use. A container (or image
 * volume) without an image string is refused (the API server would refuse it too), so nothing
 * can slip past unexamined.
 */
export function extractImages(kind: ResourceKind, object: unknown): ContainerImage[] {
  let spec: unknown = object;
  for (const seg of POD_SPEC_PATH[kind]) spec = child(spec, seg);
  if (spec === undefined || spec === null) return [];
  if (typeof spec !== 'object' || Array.isArray(spec))
    throw new SigilError('INVALID_INPUT', `${kind} pod spec is not an object`);
  const base = `/${POD_SPEC_PATH[kind].join('/')}`;
  const out: ContainerImage[] = [];
  for (const list of CONTAINER_LISTS) {
    const containers = child(spec, list);
    if (containers === undefined || containers === null) continue;
    if (!Array.isArray(containers)) throw new SigilError('INVALID_INPUT', `${base}/${list} is not a list`);
    containers.forEach((c, index) => {
      const image = checkedImage(child(c, 'image'), `${base}/${list}/${index}/image`);
      const name = child(c, 'name');
      out.push({
        pointer: `${base}/${list}/${index}/image`,
        list,
        index,
        containerName: typeof name === 'string' ? name : '',
        image,
      });
    });
    if (out.length > MAX_IMAGES_PER_OBJECT)
      throw new SigilError('INVALID_INPUT', `more than ${MAX_IMAGES_PER_OBJECT} container images`);
  }
  out.push(...volumeImages(spec, base));
  if (out.length > MAX_IMAGES_PER_OBJECT)
    throw new SigilError('INVALID_INPUT', `more than ${MAX_IMAGES_PER_OBJECT} container images`);
  return out;
}

const MAX_PULL_SECRETS = 64;

/**
 * The names in `imagePullSecrets` of every object on the way to the pod spec (the pod spec, and
 * for controllers their template's), as Kyverno's image extractor collects them. Entries that
 * are not `{ name: string }` are skipped, like Kyverno; more than 64 are refused.
 */
export function extractPullSecrets(kind: ResourceKind, object: unknown): string[] {
  const names: string[] = [];
  let at: unknown = object;
  for (const seg of ['', ...POD_SPEC_PATH[kind]]) {
    if (seg) at = child(at, seg);
    const list = child(at, 'imagePullSecrets');
    if (!Array.isArray(list)) continue;
    for (const s of list) {
      const name = child(s, 'name');
      if (typeof name === 'string' && name.length > 0) names.push(name);
    }
    if (names.length > MAX_PULL_SECRETS)
      throw new SigilError('INVALID_INPUT', `more than ${MAX_PULL_SECRETS} imagePullSecrets`);
  }
  return names;
}
