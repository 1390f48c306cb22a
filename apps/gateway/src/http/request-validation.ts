import { PipeTransform } from '@nestjs/common';
import { ValidateBy, ValidateIf, ValidationOptions, getMetadataStorage, validateSync } from 'class-validator';
import { ApiError } from './api-error';

/**
 * How every request DTO of the gateway is read and checked: the API's bodies and list query,
 * and the dashboard's forms. A DTO is a class whose fields carry class-validator decorators;
 * those decorated fields are the only ones it accepts.
 */

export type DtoClass<T extends object> = new () => T;

/** What is wrong with a value, or undefined when nothing is. */
export type Problem = (value: unknown, field: string) => string | undefined;

/** A field rule written as one function, so a value gets the single message that fits it best. */
export function Rule(name: string, problem: Problem, options?: ValidationOptions) {
  return ValidateBy(
    {
      name,
      validator: {
        validate: (value: unknown, args) => problem(value, args?.property ?? name) === undefined,
        defaultMessage: (args) => problem(args?.value, args?.property ?? name) ?? '',
      },
    },
    options,
  );
}

/**
 * Optional means absent, as in the SDK's schema: unlike class-validator's IsOptional, a
 * `null` is validated (and refused) rather than waved through to the command.
 */
export const Optional = () => ValidateIf((_object, value) => value !== undefined);

/** The fields a DTO declares: every property carrying a class-validator decorator, in declaration order. */
export function declaredFields(dto: DtoClass<object>): string[] {
  const metadata = getMetadataStorage().getTargetValidationMetadatas(dto, '', false, false);
  return [...new Set(metadata.map((entry) => entry.propertyName))];
}

/**
 * A DTO holding the declared fields of `raw` (own properties only) and nothing else. Built by
 * hand rather than with class-transformer, which copies nested values recursively: an output
 * nested thousands of levels deep would exhaust the stack.
 */
export function toDto<T extends object>(dto: DtoClass<T>, raw: object): T {
  const instance = new dto() as Record<string, unknown>;
  for (const field of declaredFields(dto)) {
    if (Object.hasOwn(raw, field)) instance[field] = (raw as Record<string, unknown>)[field];
  }
  return instance as T;
}

/**
 * Reads a body into its DTO without judging it: for the dashboard's forms, whose problems are
 * shown on the page the form came from rather than answered as an error.
 */
export function readInto<T extends object>(dto: DtoClass<T>): PipeTransform<object | undefined, T> {
  return { transform: (body) => toDto(dto, body ?? {}) };
}

/**
 * One message per defect, fields in declaration order (a message repeated by two rules once).
 * A DTO that declares no fields (a body that must be empty, such as a heartbeat's) has none;
 * class-validator would otherwise call it an unknown value.
 */
export function problemsOf(dto: object): string[] {
  const messages = validateSync(dto, { forbidUnknownValues: false }).flatMap((error) => Object.values(error.constraints ?? {}));
  return [...new Set(messages)];
}

/** The keys of `raw` a DTO does not declare, in the order they came. */
export function undeclaredFields(dto: DtoClass<object>, raw: object): string[] {
  const declared = new Set(declaredFields(dto));
  return Object.keys(raw).filter((key) => !declared.has(key));
}

/**
 * Reads a JSON body (already parsed into an object by `jsonBody`, see app.ts) into its DTO: a
 * field the DTO does not declare is refused first, on its own, naming it; then every rule is
 * checked and all problems are answered at once. Either is a 400.
 */
export class RequestBodyPipe<T extends object> implements PipeTransform<object, T> {
  constructor(
    private readonly dto: DtoClass<T>,
    /** Follows the unknown field's name in the message: what to send instead (by default, the accepted fields). */
    private readonly unknownFieldHint = `; accepted fields: ${declaredFields(dto).join(', ')}`,
  ) {}

  transform(body: object): T {
    const [unknown] = undeclaredFields(this.dto, body);
    // A hostile name may be long; the first hundred characters identify it.
    if (unknown !== undefined) throw ApiError.badRequest(`unknown field "${unknown.slice(0, 100)}"${this.unknownFieldHint}`);
    const dto = toDto(this.dto, body);
    const problems = problemsOf(dto);
    if (problems.length > 0) throw ApiError.badRequest(problems.join('; '));
    return dto;
  }
}
