using System.Globalization;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace XenIac.Reconciler.Importing;

/// <summary>
/// Writes one string as a YAML scalar that reads back as that very string. YamlDotNet's emitter decides whether
/// the text can stand plain and how to quote and escape it (colons, '#', quotes, leading '-', control
/// characters); this class only adds what the emitter does not know: a plain word that a YAML reader would take
/// for something else (true, null, 1e3, 0x10, ~) is quoted too.
/// </summary>
internal static partial class YamlScalars
{
    /// <summary>The scalar as it stands after <c>key: </c> in a block mapping, on one line.</summary>
    public static string Value(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var writer = new StringWriter(CultureInfo.InvariantCulture);
        // A width no line reaches: a wrapped quoted scalar would still be right, but a path is easier to read whole.
        var emitter = new Emitter(writer, 2, int.MaxValue);
        var plainSafe = !LooksLikeAnotherType(text);
        // Control characters (a newline, a tab) only read back exactly inside double quotes, where they are escaped.
        var style = text.Any(char.IsControl) ? ScalarStyle.DoubleQuoted : ScalarStyle.Plain;
        emitter.Emit(new StreamStart());
        emitter.Emit(new DocumentStart());
        emitter.Emit(new MappingStart(AnchorName.Empty, TagName.Empty, true, MappingStyle.Block));
        emitter.Emit(new Scalar(AnchorName.Empty, TagName.Empty, "k", ScalarStyle.Plain, true, false));
        // isPlainImplicit false makes the emitter quote: without a tag, a plain scalar would be resolved by type.
        emitter.Emit(new Scalar(AnchorName.Empty, TagName.Empty, text, style, plainSafe, true));
        emitter.Emit(new MappingEnd());
        emitter.Emit(new DocumentEnd(true));
        emitter.Emit(new StreamEnd());
        var line = writer.ToString();
        const string prefix = "k: ";
        if (!line.StartsWith(prefix, StringComparison.Ordinal))
            throw new InvalidOperationException($"the YAML emitter wrote an unexpected form for a scalar: {line}");
        var value = line[prefix.Length..].TrimEnd('\r', '\n');
        if (value.Contains('\n') || value.Contains('\r'))
            throw new InvalidOperationException("the YAML emitter split a scalar over lines");
        return value;
    }

    /// <summary>Plain words YAML 1.1 or 1.2 readers resolve to a boolean, null or number.</summary>
    private static bool LooksLikeAnotherType(string text) =>
        text.Length == 0 || Special().IsMatch(text) || Number().IsMatch(text);

    [GeneratedRegex("^(?:~|null|Null|NULL|true|True|TRUE|false|False|FALSE|y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF|[-+]?\\.(?:inf|Inf|INF)|\\.(?:nan|NaN|NAN)|<<|=)$")]
    private static partial Regex Special();

    // Integers in any base YAML knows, floats, and 1.1's sexagesimal numbers (1:20) and underscores (1_000).
    [GeneratedRegex("^[-+]?(?:0b[01_]+|0o?[0-7_]+|0x[0-9a-fA-F_]+|[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\\.[0-9_]*)?|(?:[0-9][0-9_]*)?\\.?[0-9_]*(?:[eE][-+]?[0-9]+)?)$")]
    private static partial Regex Number();
}
