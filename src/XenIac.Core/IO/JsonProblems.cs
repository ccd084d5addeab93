using System.Text.Json;

namespace XenIac.Core.IO;

/// <summary>
/// A <see cref="JsonException"/> in the user's terms. System.Text.Json words its errors for the programmer: the .NET
/// type it was filling ("could not be converted to XenIac.Reconciler.Planning.SavedPlanDocument"), the required
/// properties "for type 'X'", and a "Path: $ | LineNumber: 0 | BytePositionInLine: 5." trailer counting from 0. A user
/// needs where in their file (line and column from 1, the JSON path) and what is wrong there.
/// </summary>
public static class JsonProblems
{
    /// <summary>What is wrong, without the .NET type or the position: "a value of the wrong type", "'x' is an invalid start of a value".</summary>
    public static string Reason(JsonException e)
    {
        ArgumentNullException.ThrowIfNull(e);
        var message = e.Message;
        // The reader's own phrasings for three things a damaged file does often.
        if (message.Contains("Expected depth to be zero", StringComparison.Ordinal)) return "the text ends before its objects and arrays are closed";
        if (message.Contains("does not contain any JSON tokens", StringComparison.Ordinal)) return "there is no JSON value (the file is empty or blank)";
        var inner = e.InnerException?.Message ?? "";
        if (message.Contains("surrogate", StringComparison.OrdinalIgnoreCase) || inner.Contains("surrogate", StringComparison.OrdinalIgnoreCase))
            return "a string holds a lone surrogate escape (\\uD800-\\uDFFF without its pair), which is no text";
        if (message.Contains("could not be converted to", StringComparison.Ordinal)) return "a value of the wrong type";
        // Readers that refuse what they do not know: the property is named, the .NET type it missed is not.
        if (Quoted(message, "The JSON property '", "' could not be mapped") is { } unknown)
            return $"unknown field '{unknown}'";
        if (Quoted(message, "Duplicate property '", "'") is { } twice) return $"'{twice}' is given twice";
        var missing = message.IndexOf("missing required properties", StringComparison.Ordinal);
        if (missing >= 0) return FirstSentence(message[missing..]);
        return FirstSentence(message);
    }

    /// <summary><see cref="Reason"/> with where: "line 3, column 7, at $.domains[0]: a value of the wrong type".</summary>
    public static string Describe(JsonException e)
    {
        ArgumentNullException.ThrowIfNull(e);
        var where = new List<string>();
        if (e.LineNumber is { } line) where.Add($"line {line + 1}");
        if (e.BytePositionInLine is { } column) where.Add($"column {column + 1}");
        if (e.Path is { Length: > 0 } path && path != "$") where.Add($"at {path}");
        return where.Count == 0 ? Reason(e) : $"{string.Join(", ", where)}: {Reason(e)}";
    }

    private static string? Quoted(string message, string before, string after)
    {
        var start = message.IndexOf(before, StringComparison.Ordinal);
        if (start < 0) return null;
        start += before.Length;
        var end = message.IndexOf(after, start, StringComparison.Ordinal);
        return end < 0 ? null : message[start..end];
    }

    private static string FirstSentence(string message)
    {
        var end = message.IndexOf(". ", StringComparison.Ordinal);
        var sentence = (end >= 0 ? message[..end] : message).TrimEnd('.');
        // The trailer System.Text.Json appends when there is no sentence break before it.
        var trailer = sentence.IndexOf(" Path: ", StringComparison.Ordinal);
        return trailer >= 0 ? sentence[..trailer].TrimEnd('.') : sentence;
    }
}
