// The shape of an AdmissionReview the webhook accepts, checked before any field is read: every
// field the decisions or the logs touch has the JSON type the code assumes, so hostile input
// (an object where a string belongs, a number for labels) is a 400 naming the field, never an
// exception inside a request handler. ajv compiles the schema once into a validation function.
import { Ajv, type ErrorObject } from 'ajv';

const stringMap = { type: 'object', additionalProperties: { type: 'string' } } as const;
const optionalString = { type: 'string' } as const;

/** What sluice reads of an object's metadata; the rest is passed through unread. */
const objectSchema = {
  type: ['object', 'null'],
  properties: {
    metadata: {
      type: 'object',
      properties: {
        name: optionalString,
        generateName: optionalString,
        namespace: optionalString,
        labels: stringMap,
        annotations: stringMap,
        ownerReferences: { type: 'array', items: { type: 'object' } },
      },
    },
    spec: { type: 'object' },
  },
} as const;

export const admissionReviewSchema = {
  type: 'object',
  required: ['apiVersion', 'kind', 'request'],
  properties: {
    apiVersion: { const: 'admission.k8s.io/v1' },
    kind: { const: 'AdmissionReview' },
    request: {
      type: 'object',
      required: ['uid', 'kind', 'operation'],
      properties: {
        uid: { type: 'string', minLength: 1, maxLength: 256 },
        kind: {
          type: 'object',
          required: ['group', 'version', 'kind'],
          properties: { group: { type: 'string' }, version: { type: 'string' }, kind: { type: 'string' } },
        },
        resource: {
          type: 'object',
          properties: { group: { type: 'string' }, version: { type: 'string' }, resource: { type: 'string' } },
        },
        subResource: optionalString,
        name: optionalString,
        namespace: optionalString,
        operation: { enum: ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'] },
        userInfo: {
          type: 'object',
          properties: {
            username: optionalString,
            uid: optionalString,
            groups: { type: 'array', items: { type: 'string' } },
          },
        },
        object: objectSchema,
        oldObject: objectSchema,
        dryRun: { type: 'boolean' },
      },
    },
  },
} as const;

// strict: the schema above is the whole contract; allErrors off: the first problem is enough to
// answer, and stopping there bounds the work a hostile body can cause.
const ajv = new Ajv({ strict: true, allErrors: false, allowUnionTypes: true });
const check = ajv.compile(admissionReviewSchema);

function describe(e: ErrorObject): string {
  const where = e.instancePath === '' ? 'the review' : e.instancePath.slice(1).replace(/\//g, '.');
  if (e.keyword === 'required') return `${where === 'the review' ? '' : `${where}.`}${String(e.params.missingProperty)} is required`;
  if (e.keyword === 'const' || e.keyword === 'enum')
    return `${where} must be ${JSON.stringify(e.params.allowedValue ?? e.params.allowedValues)}`;
  return `${where} ${e.message ?? 'is malformed'}`;
}

/** Undefined when `body` has the shape sluice reads; otherwise what is wrong, naming the field. */
export function reviewShapeProblem(body: unknown): string | undefined {
  if (check(body)) return undefined;
  const first = check.errors?.[0];
  return first ? describe(first) : 'malformed AdmissionReview';
}
