/** grpc.reflection.v1.ServerReflection from the generated descriptors, so `buf curl --list-methods` and `grpcurl list` see the relay's services. */
import {
  create,
  createRegistry,
  type DescFile,
  type MessageInitShape,
  type Registry,
  toBinary,
} from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { ConnectRouter } from "@connectrpc/connect";
import { file_cmdop_v1_agent } from "../../../gen/cmdop/v1/agent_pb.ts";
import { file_cmdop_v1_audit } from "../../../gen/cmdop/v1/audit_pb.ts";
import { file_cmdop_v1_machine } from "../../../gen/cmdop/v1/machine_pb.ts";
import { file_cmdop_v1_recording } from "../../../gen/cmdop/v1/recording_pb.ts";
import { file_cmdop_v1_session } from "../../../gen/cmdop/v1/session_pb.ts";
import { file_cmdop_v1_share } from "../../../gen/cmdop/v1/share_pb.ts";
import { file_cmdop_v1_workspace } from "../../../gen/cmdop/v1/workspace_pb.ts";
import { file_grpc_health_v1_health } from "../../../gen/grpc/health/v1/health_pb.ts";
import {
  file_grpc_reflection_v1_reflection,
  ServerReflection,
  type ServerReflectionRequest,
  type ServerReflectionResponse,
  ServerReflectionResponseSchema,
} from "../../../gen/grpc/reflection/v1/reflection_pb.ts";

/** Every file the relay serves a service of. */
const FILES = [
  file_cmdop_v1_agent,
  file_cmdop_v1_audit,
  file_cmdop_v1_machine,
  file_cmdop_v1_recording,
  file_cmdop_v1_session,
  file_cmdop_v1_share,
  file_cmdop_v1_workspace,
  file_grpc_health_v1_health,
  file_grpc_reflection_v1_reflection,
];

/** A reflection stream answers this many requests at most: a client cannot keep one busy forever. */
const MAX_REQUESTS = 1_000;
/** gRPC's NOT_FOUND and INVALID_ARGUMENT, as the reflection protocol reports them. */
const NOT_FOUND = 5;
const INVALID_ARGUMENT = 3;

/**
 * Registers `grpc.reflection.v1.ServerReflection`: the list of services, and the file
 * descriptors by file name or by symbol (with every file they import). No credential:
 * the schema is public, the data behind it is not.
 *
 * @example
 * ```ts
 * registerReflectionService(router);
 * ```
 */
export function registerReflectionService(router: ConnectRouter): void {
  const registry = createRegistry(...FILES);
  const byName = new Map(FILES.flatMap(withImports).map((f) => [`${f.name}.proto`, f]));
  const services = FILES.flatMap((f) => f.services.map((s) => s.typeName)).sort();
  router.service(ServerReflection, {
    async *serverReflectionInfo(requests) {
      let answered = 0;
      for await (const request of requests) {
        if (++answered > MAX_REQUESTS) return;
        yield answer(request, { registry, byName, services });
      }
    },
  });
}

/** What reflection answers from. */
interface Schema {
  registry: Registry;
  /** Files by their proto path, `cmdop/v1/agent.proto`. */
  byName: Map<string, DescFile>;
  services: string[];
}

type Reply = MessageInitShape<typeof ServerReflectionResponseSchema>["messageResponse"];

function answer(request: ServerReflectionRequest, schema: Schema): ServerReflectionResponse {
  const { registry, byName, services } = schema;
  const reply = (message: Reply) =>
    create(ServerReflectionResponseSchema, {
      validHost: request.host,
      originalRequest: request,
      messageResponse: message,
    });
  const error = (errorCode: number, errorMessage: string) =>
    reply({ case: "errorResponse", value: { errorCode, errorMessage } });
  const files = (file: DescFile | undefined, what: string) =>
    file
      ? reply({
        case: "fileDescriptorResponse",
        value: { fileDescriptorProto: withImports(file).map(encodeFile) },
      })
      : error(NOT_FOUND, `${what} not found`);
  const { case: kind, value } = request.messageRequest;
  switch (kind) {
    case "listServices":
      return reply({
        case: "listServicesResponse",
        value: { service: services.map((name) => ({ name })) },
      });
    case "fileByFilename":
      return files(byName.get(value), `file "${value}"`);
    case "fileContainingSymbol":
      return files(fileOfSymbol(registry, value), `symbol "${value}"`);
    case "fileContainingExtension":
      return error(NOT_FOUND, "the relay's files declare no extensions");
    case "allExtensionNumbersOfType":
      return reply({
        case: "allExtensionNumbersResponse",
        value: { baseTypeName: value, extensionNumber: [] },
      });
    default:
      return error(INVALID_ARGUMENT, "empty reflection request");
  }
}

/** The file declaring a message, enum, service or method (`pkg.Service.Method`). */
function fileOfSymbol(registry: Registry, symbol: string): DescFile | undefined {
  const desc = registry.get(symbol) ?? registry.get(symbol.replace(/\.[^.]+$/, ""));
  return desc?.file;
}

/** The file first, then everything it imports, each once. */
function withImports(file: DescFile): DescFile[] {
  const out = new Map<string, DescFile>();
  const visit = (f: DescFile) => {
    if (out.has(f.name)) return;
    out.set(f.name, f);
    f.dependencies.forEach(visit);
  };
  visit(file);
  return [...out.values()];
}

function encodeFile(file: DescFile): Uint8Array {
  return toBinary(FileDescriptorProtoSchema, file.proto);
}
