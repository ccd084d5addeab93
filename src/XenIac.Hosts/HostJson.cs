using System.Text.Json.Serialization;
using XenIac.Core.IO;
using XenIac.Hosts.Embedded;

namespace XenIac.Hosts;

/// <summary>
/// The JSON the hosts keep on disk, generated at compile time: the CLI is compiled ahead of time, where
/// reflection-based serialization does not exist. Lock owners keep the default (PascalCase) names XenIac has
/// always written; see <see cref="DomainRecordJson"/> for the embedded host's records.
/// </summary>
[JsonSerializable(typeof(LockOwner))]
internal sealed partial class HostJson : JsonSerializerContext;

/// <summary>Embedded domain records: camelCase, indented, enum values as camelCase strings (running, paused).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true,
    Converters = [typeof(CamelCaseEnum<DomainState>)])]
[JsonSerializable(typeof(DomainRecord))]
[JsonSerializable(typeof(EmbeddedMachine))]
internal sealed partial class DomainRecordJson : JsonSerializerContext;
