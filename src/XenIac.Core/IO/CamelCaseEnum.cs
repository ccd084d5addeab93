using System.Text.Json;
using System.Text.Json.Serialization;

namespace XenIac.Core.IO;

/// <summary>
/// Enum values as camelCase strings (running, succeeded), the way XenIac's files and JSON output write them. A type
/// rather than an options instance because source-generated contexts (the CLI is compiled ahead of time) name
/// their converters by type.
/// </summary>
public sealed class CamelCaseEnum<TEnum>() : JsonStringEnumConverter<TEnum>(JsonNamingPolicy.CamelCase) where TEnum : struct, Enum;
